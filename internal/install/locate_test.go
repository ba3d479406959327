package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/tool"
)

func TestLocate(t *testing.T) {
	t.Parallel()
	binDir := t.TempDir()
	in := &Installer{BinDir: binDir}

	// BinDir first, even when $PATH has the same name.
	sh := filepath.Join(binDir, "sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := in.Locate(aptTool("shell", "sh", "dash")); err != nil || got != sh {
		t.Errorf("Locate(sh) = %q, %v; want %s", got, err, sh)
	}

	// Then $PATH.
	want, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true on PATH")
	}
	if got, err := in.Locate(aptTool("true", "true", "coreutils")); err != nil || got != want {
		t.Errorf("Locate(true) = %q, %v; want %s", got, err, want)
	}

	// A file in BinDir that is not executable does not count.
	if err := os.WriteFile(filepath.Join(binDir, "httpx"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := goTool("httpx")
	d.Binary = "sortie-test-httpx"
	d.Name = "httpx"
	_, err = in.Locate(d)
	if !errors.Is(err, ErrMissing) {
		t.Fatalf("err = %v, want ErrMissing", err)
	}
	if got := err.Error(); got != `httpx is not installed: run "sortie install httpx"` {
		t.Errorf("message = %q", got)
	}
	var me *MissingError
	if !errors.As(err, &me) || me.Command != "sortie install httpx" || me.Binary != "sortie-test-httpx" {
		t.Errorf("MissingError = %+v", me)
	}

	custom := &tool.Definition{Name: "mine", Binary: "sortie-test-mine"}
	if _, err := in.Locate(custom); err == nil || err.Error() != "mine is not installed: put sortie-test-mine on PATH" {
		t.Errorf("no recipe: %v", err)
	}
	if _, err := in.Locate(&tool.Definition{Name: "bad", Binary: "../sh"}); err == nil || errors.Is(err, ErrMissing) {
		t.Errorf("path as binary: err = %v, want a validation error", err)
	}
}

func TestRecipeString(t *testing.T) {
	t.Parallel()
	trivy := goTool("trivy")
	trivy.Install.Go = &tool.GoInstall{Module: "github.com/aquasecurity/trivy", Version: "v0.74.0", Package: "./cmd/trivy",
		LDFlags: "-X main.version=0.74.0", Env: []string{"GOEXPERIMENT=jsonv2"}}
	naabu := goTool("naabu")
	naabu.Install.Go.AptDeps = []string{"libpcap-dev"}
	cases := []struct {
		d    *tool.Definition
		want string
	}{
		{goTool("httpx"), "go: example.com/httpx@v1.2.3 ./cmd/httpx"},
		{trivy, `go: github.com/aquasecurity/trivy@v0.74.0 ./cmd/trivy (ldflags "-X main.version=0.74.0"; env GOEXPERIMENT=jsonv2)`},
		{naabu, "go: example.com/naabu@v1.2.3 ./cmd/naabu (apt libpcap-dev)"},
		{aptTool("nmap", "nmap", "nmap"), "apt: nmap"},
		{&tool.Definition{Name: "mine"}, "none"},
	}
	for _, c := range cases {
		if got := RecipeString(c.d); got != c.want {
			t.Errorf("RecipeString(%s) = %q, want %q", c.d.Name, got, c.want)
		}
	}
	if got := InstallCommand(goTool("httpx")); got != "sortie install httpx" {
		t.Errorf("InstallCommand = %q", got)
	}
	if got := InstallCommand(&tool.Definition{Name: "mine"}); got != "" {
		t.Errorf("InstallCommand(no recipe) = %q", got)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	fakes := fakeDir(t, "faketool")
	path := filepath.Join(fakes, "faketool")
	d := &tool.Definition{Name: "fake", Binary: "faketool", Version: tool.VersionCommand{
		Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`,
	}}
	// The fake colours its version and exits 2: neither matters.
	v, err := Version(context.Background(), path, d)
	if err != nil || v != "1.2.3" {
		t.Fatalf("Version = %q, %v; want 1.2.3", v, err)
	}

	d.Version.Regex = `home=(\S+)`
	home, err := Version(context.Background(), path, d)
	if err != nil {
		t.Fatal(err)
	}
	if real, _ := os.UserHomeDir(); home == real || !strings.Contains(home, "sortie-version-") {
		t.Errorf("HOME = %q, want a temporary directory", home)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("temporary HOME %s not removed: %v", home, err)
	}

	d.Version.Regex = `stdin=(\S+)`
	if got, err := Version(context.Background(), path, d); err != nil || got != "devnull" {
		t.Errorf("stdin = %q, %v; want devnull", got, err)
	}

	d.Version.Regex = `no such text`
	if _, err := Version(context.Background(), path, d); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("no match: err = %v, want the exit status", err)
	}

	d.Version.Args = nil
	if _, err := Version(context.Background(), path, d); !errors.Is(err, ErrNoVersionCommand) {
		t.Errorf("no args: err = %v", err)
	}
}

// TestVersionAptToolUsesSystemPath: a Debian tool's script runs its
// interpreter from PATH; the version command finds Debian's first, as the
// tool's runs do, not one a version manager put first on the user's PATH.
func TestVersionAptToolUsesSystemPath(t *testing.T) {
	shadow := t.TempDir()
	if err := os.WriteFile(filepath.Join(shadow, "uname"), []byte("#!/bin/sh\necho shadow\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", shadow+string(os.PathListSeparator)+os.Getenv("PATH"))
	script := filepath.Join(t.TempDir(), "debtool")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"debtool on $(uname -s)\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	d := &tool.Definition{Name: "debtool", Binary: "debtool", Install: tool.Install{Apt: []string{"debtool"}},
		Version: tool.VersionCommand{Args: []string{"--version"}, Regex: `debtool on (\S+)`}}
	if v, err := Version(context.Background(), script, d); err != nil || v != "Linux" {
		t.Errorf("Version = %q, %v; want Linux (the system's uname)", v, err)
	}
	// A Go tool keeps the user's PATH.
	d.Install = tool.Install{Go: &tool.GoInstall{Module: "example.com/debtool", Version: "v1.0.0", Package: "."}}
	if v, err := Version(context.Background(), script, d); err != nil || v != "shadow" {
		t.Errorf("Version of a Go tool = %q, %v; want shadow (the user's PATH)", v, err)
	}
}

func TestVersionStopsOnContext(t *testing.T) {
	t.Parallel()
	fakes := fakeDir(t, "faketool")
	d := &tool.Definition{Name: "fake", Version: tool.VersionCommand{Args: []string{"hang"}, Regex: `v(\S+)`}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Version(ctx, filepath.Join(fakes, "faketool"), d)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

func ExampleRecipeString() {
	d := &tool.Definition{Name: "httpx", Binary: "httpx", Install: tool.Install{Go: &tool.GoInstall{
		Module: "github.com/projectdiscovery/httpx", Version: "v1.9.0", Package: "./cmd/httpx",
	}}}
	fmt.Println(RecipeString(d))
	fmt.Println(InstallCommand(d))
	// Output:
	// go: github.com/projectdiscovery/httpx@v1.9.0 ./cmd/httpx
	// sortie install httpx
}
