package signing_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/signing"
)

func TestKeyRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "signing.key")
	k, created, err := signing.LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v (created %v)", err, created)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v, want 0600", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, want 0700", di.Mode())
	}
	again, created, err := signing.LoadOrCreateKey(path)
	if err != nil || created || again.Public() != k.Public() {
		t.Fatalf("load: %v (created %v), same key %v", err, created, again.Public() == k.Public())
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), k.Public().String()) {
		t.Errorf("the key file does not name its public key:\n%s", data)
	}

	msg := []byte(`{"run":"r1"}`)
	sig := k.SignText("d", msg)
	trust := signing.NewTrust(k.Public())
	if err := trust.Verify(k.Public(), "d", msg, sig); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := trust.Verify(k.Public(), "other", msg, sig); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("another domain: %v, want a bad signature", err)
	}
	if err := trust.Verify(k.Public(), "d", []byte(`{"run":"r2"}`), sig); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("changed message: %v, want a bad signature", err)
	}
	other, _ := signing.Generate()
	if err := trust.Verify(other.Public(), "d", msg, other.SignText("d", msg)); !errors.Is(err, signing.ErrUntrusted) {
		t.Errorf("unknown key: %v, want untrusted", err)
	}
	if err := trust.Verify(k.Public(), "d", msg, "AAAA"); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("short signature: %v, want a bad signature", err)
	}
}

func TestSaveKeyNeverReplacesOrFollows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, _ := signing.Generate()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.key")
	if err := os.Symlink(filepath.Join(dir, "planted"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{victim, link, dangling} {
		if err := signing.SaveKey(p, k); !errors.Is(err, fs.ErrExist) {
			t.Errorf("save to %s: %v, want it to exist already", filepath.Base(p), err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "planted")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was made through a dangling symlink: %v", err)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, _ := signing.Generate()
	open := filepath.Join(dir, "open.key")
	if err := signing.SaveKey(open, k); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	var me *signing.ModeError
	if _, err := signing.LoadKey(open); !errors.As(err, &me) || !strings.Contains(err.Error(), "chmod 0600") {
		t.Errorf("a key others can read: %v, want a mode error saying chmod 0600", err)
	}
	for name, content := range map[string]string{
		"empty":   "# nothing\n",
		"public":  k.Public().String() + "\n",
		"short":   "sortie-ed25519-seed:QUJD\n",
		"two":     "sortie-ed25519-seed:" + strings.Repeat("A", 43) + "=\nsortie-ed25519-seed:" + strings.Repeat("A", 43) + "=\n",
		"garbage": "\x00\x01\x02",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := signing.LoadKey(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s key file: %v, want an error naming the file", name, err)
		}
	}
	if _, err := signing.LoadKey(dir); err == nil {
		t.Error("a directory loaded as a key")
	}
}

func TestLoadTrust(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	team := copyFile(t, "testdata/trust/team.keys", filepath.Join(dir, "team.keys"), 0o644)
	tr, err := signing.LoadTrust(team)
	if err != nil || tr.Len() != 2 {
		t.Fatalf("team.keys: %v, %d keys, want 2", err, tr.Len())
	}
	bad := copyFile(t, "testdata/trust/bad.keys", filepath.Join(dir, "bad.keys"), 0o644)
	_, err = signing.LoadTrust(bad)
	for _, want := range []string{"bad.keys:1:", "bad.keys:2:", "bad.keys:3:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad.keys: %v, want an error at %s", err, want)
		}
	}
	writable := copyFile(t, "testdata/trust/team.keys", filepath.Join(dir, "writable.keys"), 0o666)
	if err := os.Chmod(writable, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.LoadTrust(writable); err == nil || !strings.Contains(err.Error(), "writable by other users") {
		t.Errorf("a trust file others can write: %v", err)
	}
	empty := filepath.Join(dir, "empty.keys")
	if err := os.WriteFile(empty, []byte("# no one yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.LoadTrust(empty); err == nil || !strings.Contains(err.Error(), "names no key") {
		t.Errorf("an empty trust file: %v", err)
	}
	if _, err := signing.LoadTrust(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing trust file: %v", err)
	}
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	return to
}

// FuzzParseTrust: any trust file content gives keys or line errors, never
// a panic, and every key it accepts prints back to a line it accepts.
func FuzzParseTrust(f *testing.F) {
	for _, name := range []string{"testdata/trust/team.keys", "testdata/trust/bad.keys"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("sortie-ed25519:"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := signing.NewTrust()
		_ = tr.ParseTrust("fuzz", data)
		for _, s := range tr.Keys() {
			k, err := signing.ParsePublicKey(s)
			if err != nil || k.String() != s {
				t.Fatalf("accepted key %q does not round-trip: %v", s, err)
			}
		}
	})
}

// FuzzParseKey: any key file content gives a key or an error, never a
// panic.
func FuzzParseKey(f *testing.F) {
	k, _ := signing.NewKeyFromSeed(make([]byte, 32))
	dir := f.TempDir()
	p := filepath.Join(dir, "k")
	if err := signing.SaveKey(p, k); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	f.Add(b)
	f.Add([]byte("sortie-ed25519-seed:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := signing.ParseKey(data)
		if err == nil && k == nil {
			t.Fatal("no key and no error")
		}
	})
}
