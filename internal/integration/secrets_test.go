package integration

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
)

// fakeAWSKey returns an access key id and a secret key in AWS's formats.
// They are made at run time, so that no scanner flags this file, and they
// open nothing.
func fakeAWSKey() (id, secret string) {
	sum := sha256.Sum256([]byte("sortie integration test: not a real key"))
	id = "AKIA" + base32.StdEncoding.EncodeToString(sum[:])[:16] // AKIA + 16 of [A-Z2-7]
	sum2 := sha256.Sum256(sum[:])
	secret = base64.StdEncoding.EncodeToString(append(sum[:15], sum2[:15]...)) // 40 characters
	return id, secret
}

// writeCredentials writes an AWS credentials file holding the fake key into
// dir and returns the key id and secret.
func writeCredentials(t *testing.T, dir string) (id, secret string) {
	t.Helper()
	id, secret = fakeAWSKey()
	content := "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\nregion = eu-west-1\n"
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, secret
}

// assertSecretHidden checks that a secret appears neither in the findings
// nor on sortie's output.
func assertSecretHidden(t *testing.T, r *runResult, secrets ...string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.Dir, report.FindingsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(data), s) || strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("the secret %q appears in clear in findings.jsonl or on sortie's output", s)
		}
	}
}

func TestGitleaks(t *testing.T) {
	begin(t)
	needTool(t, "gitleaks")

	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		id, secret := writeCredentials(t, dir)
		r := runTool(t, 2*time.Minute, "gitleaks", dir, "--task-timeout", "1m")
		r.wantDone(t)
		tag := secretTag(t, r, "aws-access-token")
		if tag.Match != filepath.Join(dir, "credentials")+":2" || tag.Category != "secret" || tag.Value != id[:4]+"…" {
			t.Errorf("aws-access-token tag %+v, want match %s:2, category secret, value %q", *tag, filepath.Join(dir, "credentials"), id[:4]+"…")
		}
		assertSecretHidden(t, r, id, secret)
	})

	t.Run("git", func(t *testing.T) {
		t.Parallel()
		gitBin := needCommand(t, "git", "git")
		dir := t.TempDir()
		id, secret := writeCredentials(t, dir)
		git := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(gitBin, append([]string{"-c", "user.name=Sortie Test", "-c", "user.email=test@sortie.invalid",
				"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return strings.TrimSpace(string(out))
		}
		git("init", "-q")
		git("add", "credentials")
		git("commit", "-q", "-m", "add credentials")
		head := git("rev-parse", "HEAD")

		r := runTool(t, 2*time.Minute, "gitleaks", dir, "--mode", "git", "--task-timeout", "1m")
		r.wantDone(t)
		tag := secretTag(t, r, "aws-access-token")
		if tag.Match != filepath.Join(dir, "credentials")+":2" || tag.Category != "secret" || tag.Value != id[:4]+"…" ||
			tag.ExtraData["commit"] != head || tag.ExtraData["author"] != "Sortie Test" || tag.ExtraData["email"] != "test@sortie.invalid" {
			t.Errorf("aws-access-token tag %+v\nwant match %s:2, category secret, value %q, commit %s by Sortie Test <test@sortie.invalid>",
				*tag, filepath.Join(dir, "credentials"), id[:4]+"…", head)
		}
		assertSecretHidden(t, r, id, secret)
	})
}

// secretTag returns the one tag of a rule, failing the test otherwise.
func secretTag(t *testing.T, r *runResult, rule string) *finding.Tag {
	t.Helper()
	var found []*finding.Tag
	var names []string
	for _, tag := range only[*finding.Tag](r.Findings) {
		names = append(names, tag.Name)
		if tag.Name == rule {
			found = append(found, tag)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d tags of rule %s, want 1; tags: %q", len(found), rule, names)
	}
	return found[0]
}

func TestTrivy(t *testing.T) {
	begin(t)
	needTool(t, "trivy")
	dir := t.TempDir()
	id, secret := writeCredentials(t, dir)

	// The default scanners (secret, misconfig), offline: no database is
	// needed for these.
	r := runTool(t, 5*time.Minute, "trivy", dir, "--task-timeout", "4m")
	r.wantDone(t)
	if tags := only[*finding.Tag](r.Findings); len(tags) != 2 {
		t.Errorf("%d tags, want 2 (the key id and the secret key): %+v", len(tags), tags)
	}
	creds := filepath.Join(dir, "credentials")
	for _, w := range []struct{ rule, match, line, title string }{
		{"aws-access-key-id", creds + ":2", "aws_access_key_id = " + strings.Repeat("*", len(id)), "AWS Access Key ID"},
		{"aws-secret-access-key", creds + ":3", "aws_secret_access_key = " + strings.Repeat("*", len(secret)), "AWS Secret Access Key"},
	} {
		tag := secretTag(t, r, w.rule)
		// trivy masks the secret in the line it reports.
		if tag.Match != w.match || tag.Category != "secret" || tag.Value != "" || tag.ExtraData["line"] != w.line ||
			tag.ExtraData["title"] != w.title || tag.ExtraData["severity"] != "critical" || tag.ExtraData["provider"] != "AWS" {
			t.Errorf("%s tag %+v\nwant match %s, category secret, line %q, title %q, severity critical, provider AWS", w.rule, *tag, w.match, w.line, w.title)
		}
	}
	assertSecretHidden(t, r, id, secret)
}
