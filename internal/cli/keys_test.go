package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/signing"
)

// Off loopback, a worker that trusts no submitter refuses to start, before
// connecting, and says how to set trust up. (The address is in the
// .invalid domain: it never resolves, so nothing is ever contacted.)
func TestWorkerRefusesToStartOffLoopbackWithoutTrust(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"worker", "--server", "nats://sortie-fleet.invalid:4222", "--config", emptyConfig(t)},
		strings.NewReader(""), &out, &errb)
	if code != ExitUsage {
		t.Errorf("exit %d, want %d (usage)", code, ExitUsage)
	}
	for _, want := range []string{
		"sortie: error: no trusted submitters",
		`hint: on each submitter's machine run "sortie keys show"`,
		"--trust FILE",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// A trust file others can write would let them add submitters: refused.
func TestWorkerRefusesAWritableTrustFile(t *testing.T) {
	t.Parallel()
	k, _ := signing.Generate()
	p := filepath.Join(t.TempDir(), "trusted.keys")
	if err := os.WriteFile(p, []byte(k.Public().String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"worker", "--server", "nats://127.0.0.1:1", "--trust", p, "--config", emptyConfig(t)},
		strings.NewReader(""), &out, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), "writable by other users") {
		t.Errorf("exit %d, want %d and a mode error:\n%s", code, ExitUsage, errb.String())
	}
}

// On loopback with no --trust, a worker trusts the local signing key, made
// if absent (so a worker may start before the first submit), and the one
// "sortie keys show" prints.
func TestWorkerTrustsTheLocalKeyOnLoopback(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	tr, err := workerTrust(nil, "nats://127.0.0.1:4222,nats://[::1]:4223,localhost:4224", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	k, created, err := loadSigningKey("")
	if err != nil || created {
		t.Fatalf("the worker did not make the local key: %v (created now: %v)", err, created)
	}
	if got := tr.Keys(); len(got) != 1 || got[0] != k.Public().String() {
		t.Errorf("trusted %q, want only the local key %s", got, k.Public())
	}
	for _, s := range []string{"nats://10.0.0.1:4222", "nats://127.0.0.1:4222,nats://sortie.example:4222", "nats://127.0.0.1.example:4222", ""} {
		if loopbackServer(s) {
			t.Errorf("%q taken for loopback", s)
		}
	}
}

// emptyConfig is a config file with no settings, so the user's own config
// file plays no part.
func emptyConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
