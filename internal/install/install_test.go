package install

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/tool"
)

// syncBuffer is a bytes.Buffer safe for the installer's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func goTool(name string) *tool.Definition {
	return &tool.Definition{
		Name: name, Binary: name,
		Install: tool.Install{Go: &tool.GoInstall{
			Module: "example.com/" + name, Version: "v1.2.3", Package: "./cmd/" + name,
		}},
	}
}

func aptTool(name, binary string, pkgs ...string) *tool.Definition {
	return &tool.Definition{Name: name, Binary: binary, Install: tool.Install{Apt: pkgs}}
}

// noLeftovers fails if an install left temporary files in dir.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file left in %s: %s", dir, e.Name())
		}
	}
}

func TestMarkerFor(t *testing.T) {
	t.Parallel()
	base := tool.GoInstall{Module: "github.com/x/y", Version: "v1.0.0", Package: "./cmd/y"}
	m := markerFor(&base)
	if first, _, _ := strings.Cut(m, "\n"); first != "github.com/x/y@v1.0.0" {
		t.Errorf("first line = %q, want module@version", first)
	}
	variants := map[string]func(g *tool.GoInstall){
		"version": func(g *tool.GoInstall) { g.Version = "v1.0.1" },
		"package": func(g *tool.GoInstall) { g.Package = "./cmd/z" },
		"ldflags": func(g *tool.GoInstall) { g.LDFlags = "-s -w" },
		"env":     func(g *tool.GoInstall) { g.Env = []string{"GOEXPERIMENT=jsonv2"} },
	}
	for name, change := range variants {
		g := base
		change(&g)
		if markerFor(&g) == m {
			t.Errorf("changing the %s does not change the marker", name)
		}
	}
	// Build dependencies installed from apt do not change the binary.
	g := base
	g.AptDeps = []string{"libpcap-dev"}
	if markerFor(&g) != m {
		t.Error("apt deps change the marker")
	}
}

func TestInstallGoSkipsWhenMarkerMatches(t *testing.T) {
	t.Parallel()
	binDir := t.TempDir()
	d := goTool("httpx")
	bin := filepath.Join(binDir, "httpx")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(markerPath(binDir, "httpx"), []byte(markerFor(d.Install.Go)), 0o644); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	// A go command that does not exist proves nothing is run.
	in := &Installer{BinDir: binDir, Go: filepath.Join(t.TempDir(), "no-go"), Log: &log}
	res, err := in.Install(context.Background(), d, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Skipped || res.Path != bin || res.Tool != "httpx" {
		t.Errorf("result = %+v, want skipped at %s", res, bin)
	}
	if res.Recipe != "go: example.com/httpx@v1.2.3 ./cmd/httpx" {
		t.Errorf("recipe = %q", res.Recipe)
	}
	if log.String() != "" { // a skip is reported in the Result, not logged
		t.Errorf("log = %q, want nothing", log.String())
	}
}

func TestInstallGoBuilds(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		marker  string // "" means no marker file
		binary  bool   // an old binary exists
		force   bool
		noExec  bool // the old binary is not executable
		rebuild bool
	}{
		"fresh":            {rebuild: true},
		"no marker":        {binary: true, rebuild: true},
		"other version":    {binary: true, marker: "example.com/tool@v1.2.2\npackage ./cmd/tool\n", rebuild: true},
		"marker, no bin":   {marker: "current", rebuild: true},
		"not executable":   {binary: true, noExec: true, marker: "current", rebuild: true},
		"force":            {binary: true, marker: "current", force: true, rebuild: true},
		"up to date":       {binary: true, marker: "current", rebuild: false},
		"trailing newline": {binary: true, marker: "current+\n", rebuild: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fakes := fakeDir(t, "go")
			binDir := filepath.Join(t.TempDir(), "sub", "bin") // created by Install
			d := goTool("tool")
			d.Install.Go.LDFlags = "-s -w -X main.version=v1.2.3"
			d.Install.Go.Env = []string{"GOEXPERIMENT=jsonv2"}
			want := markerFor(d.Install.Go)
			bin := filepath.Join(binDir, "tool")
			if tc.binary || tc.marker != "" {
				if err := os.MkdirAll(binDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tc.binary {
				mode := os.FileMode(0o755)
				if tc.noExec {
					mode = 0o644
				}
				if err := os.WriteFile(bin, []byte("old"), mode); err != nil {
					t.Fatal(err)
				}
			}
			if tc.marker != "" {
				m := strings.ReplaceAll(tc.marker, "current", want)
				m = strings.ReplaceAll(m, "+", "")
				if err := os.WriteFile(markerPath(binDir, "tool"), []byte(m), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			var log syncBuffer
			in := &Installer{BinDir: binDir, WorkDir: t.TempDir(), Go: filepath.Join(fakes, "go"), Log: &log}
			res, err := in.Install(context.Background(), d, tc.force)
			if err != nil {
				t.Fatalf("Install: %v\nlog:\n%s", err, log.String())
			}
			if res.Skipped == tc.rebuild {
				t.Fatalf("Skipped = %v, want %v", res.Skipped, !tc.rebuild)
			}
			got := calls(t, fakes)
			if !tc.rebuild {
				if len(got) != 0 {
					t.Errorf("ran %q, want nothing", got)
				}
				return
			}
			wantCalls := [][]string{
				{"go", "mod", "init", "sortie-install"},
				{"go", "mod", "download", "-json", "example.com/tool@v1.2.3"},
				{"go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v1.2.3", "-o", "<tmp>", "./cmd/tool"},
			}
			if len(got) != len(wantCalls) {
				t.Fatalf("calls = %q, want %q", got, wantCalls)
			}
			for i := range wantCalls {
				g := got[i]
				if i == 2 && len(g) == 8 {
					if dir := filepath.Dir(filepath.Dir(g[6])); dir != binDir {
						t.Errorf("build output %s is not in a temporary directory of %s", g[6], binDir)
					}
					g[6] = "<tmp>"
				}
				if strings.Join(g, "\x00") != strings.Join(wantCalls[i], "\x00") {
					t.Errorf("call %d = %q, want %q", i, g, wantCalls[i])
				}
			}
			out, err := exec.Command(bin).Output()
			if err != nil {
				t.Fatalf("run installed binary: %v", err)
			}
			modDir := filepath.Join(fakes, "mod", "example.com", "tool@v1.2.3")
			if want := "built from ./cmd/tool in " + modDir + " with GOEXPERIMENT=jsonv2\n"; string(out) != want {
				t.Errorf("installed binary says %q, want %q", out, want)
			}
			if m, err := os.ReadFile(markerPath(binDir, "tool")); err != nil || string(m) != want {
				t.Errorf("marker = %q, %v; want %q", m, err, want)
			}
			if !strings.Contains(log.String(), "installing tool v1.2.3 (go build, this can take minutes)") {
				t.Errorf("log = %q, want a progress line", log.String())
			}
			noLeftovers(t, binDir)

			// Installing again is a no-op.
			res, err = in.Install(context.Background(), d, false)
			if err != nil || !res.Skipped {
				t.Errorf("second Install = %+v, %v; want skipped", res, err)
			}
			if n := len(calls(t, fakes)); n != len(wantCalls) {
				t.Errorf("second Install ran %d commands", n-len(wantCalls))
			}
		})
	}
}

func TestInstallGoBuildFailure(t *testing.T) {
	t.Parallel()
	fakes := fakeDir(t, "go")
	binDir := t.TempDir()
	d := goTool("tool")
	d.Install.Go.Env = []string{"FAKE_GO_BUILD_FAIL=1"}
	bin := filepath.Join(binDir, "tool")
	if err := os.WriteFile(bin, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	in := &Installer{BinDir: binDir, Go: filepath.Join(fakes, "go"), Log: &log}
	_, err := in.Install(context.Background(), d, true)
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *CommandError", err)
	}
	if !strings.Contains(ce.Tail, "undefined: frobnicate") || !strings.Contains(ce.Tail, "go: downloading") {
		t.Errorf("tail = %q, want the build output", ce.Tail)
	}
	if !strings.Contains(err.Error(), "install tool:") || !strings.Contains(err.Error(), "undefined: frobnicate") {
		t.Errorf("error = %q, want the tool and the last output line", err)
	}
	if !strings.Contains(log.String(), "undefined: frobnicate") {
		t.Errorf("log = %q, want the failing command's output", log.String())
	}
	if data, _ := os.ReadFile(bin); string(data) != "old" {
		t.Errorf("old binary replaced by a failed build")
	}
	if _, err := os.Stat(markerPath(binDir, "tool")); !os.IsNotExist(err) {
		t.Errorf("marker after a failed build: %v", err)
	}
	noLeftovers(t, binDir)
}

func TestInstallGoCancelled(t *testing.T) {
	t.Parallel()
	fakes := fakeDir(t, "go")
	binDir := t.TempDir()
	d := goTool("tool")
	d.Install.Go.Env = []string{"FAKE_GO_BUILD_HANG=1"}
	bin := filepath.Join(binDir, "tool")
	if err := os.WriteFile(bin, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Wherever the deadline falls (the fake build never ends), the install
	// stops and leaves the old binary alone.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	in := &Installer{BinDir: binDir, Go: filepath.Join(fakes, "go")}
	_, err := in.Install(ctx, d, true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if data, _ := os.ReadFile(bin); string(data) != "old" {
		t.Errorf("old binary replaced by a cancelled build")
	}
	noLeftovers(t, binDir)
}

func TestInstallGoDownloadError(t *testing.T) {
	t.Parallel()
	fakes := fakeDir(t, "go")
	d := goTool("missing")
	in := &Installer{BinDir: t.TempDir(), Go: filepath.Join(fakes, "go")}
	_, err := in.Install(context.Background(), d, false)
	if err == nil || !strings.Contains(err.Error(), "go mod download example.com/missing@v1.2.3: ") ||
		!strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("err = %v, want the go mod download error", err)
	}
}

func TestInstallGoAptDeps(t *testing.T) {
	t.Parallel()
	fakes := fakeDir(t, "go", "apt-get", "dpkg-query")
	d := goTool("naabu")
	d.Install.Go.AptDeps = []string{"libpresent-dev", "libpcap-dev"}

	t.Run("not root", func(t *testing.T) {
		in := &Installer{BinDir: t.TempDir(), Go: filepath.Join(fakes, "go"),
			aptGet: filepath.Join(fakes, "apt-get"), dpkgQuery: filepath.Join(fakes, "dpkg-query")}
		_, err := in.Install(context.Background(), d, false)
		if !errors.Is(err, ErrNotRoot) || !strings.Contains(err.Error(), `"sudo apt-get install -y libpcap-dev"`) {
			t.Errorf("err = %v, want ErrNotRoot naming only the missing package", err)
		}
	})
}

func TestInstallAptNotRoot(t *testing.T) {
	t.Parallel()
	d := aptTool("testssl", "sortie-test-no-such-binary", "testssl.sh", "bsdextrautils")
	in := &Installer{BinDir: t.TempDir()}
	_, err := in.Install(context.Background(), d, false)
	if !errors.Is(err, ErrNotRoot) {
		t.Fatalf("err = %v, want ErrNotRoot", err)
	}
	if !strings.Contains(err.Error(), "sudo apt-get install -y testssl.sh bsdextrautils") {
		t.Errorf("err = %q, want the sudo command", err)
	}
}

func TestInstallAptSkipsWhenOnPath(t *testing.T) {
	t.Parallel()
	want, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	in := &Installer{BinDir: t.TempDir(), aptGet: "/nonexistent/apt-get"}
	res, err := in.Install(context.Background(), aptTool("shell", "sh", "dash"), false)
	if err != nil || !res.Skipped || res.Path != want || res.Recipe != "apt: dash" {
		t.Errorf("Install = %+v, %v; want skipped at %s", res, err, want)
	}
}

func TestInstallAptUpdatesOnce(t *testing.T) {
	t.Parallel()
	fakes := fakeDir(t, "apt-get")
	var log syncBuffer
	in := &Installer{BinDir: t.TempDir(), Root: true, Log: &log, aptGet: filepath.Join(fakes, "apt-get")}
	d := aptTool("nmap", "sortie-test-no-such-binary", "nmap")
	_, err := in.Install(context.Background(), d, false)
	// The fake installs nothing, so the binary is still missing afterwards.
	if err == nil || !strings.Contains(err.Error(), "apt-get installed nmap but sortie-test-no-such-binary is not on PATH") {
		t.Errorf("err = %v", err)
	}
	install := []string{"apt-get", "install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=120", "nmap"}
	want := [][]string{install, {"apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=120"}, install}
	got := calls(t, fakes)
	if len(got) != len(want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("call %d = %q, want %q", i, got[i], want[i])
		}
	}
	// The update ran once: a second failure does not run it again.
	if err := os.Remove(filepath.Join(fakes, "apt-updated")); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Install(context.Background(), d, false); err == nil || !strings.Contains(err.Error(), "Unable to locate package nmap") {
		t.Errorf("err = %v, want apt-get's error", err)
	}
	if n := len(calls(t, fakes)); n != len(want)+1 {
		t.Errorf("second install ran %d commands, want 1", n-len(want))
	}
}

func TestValidateRecipe(t *testing.T) {
	t.Parallel()
	bad := map[string]func(d *tool.Definition){
		"binary path":    func(d *tool.Definition) { d.Binary = "../evil" },
		"binary flag":    func(d *tool.Definition) { d.Binary = "-x" },
		"empty binary":   func(d *tool.Definition) { d.Binary = "" },
		"latest":         func(d *tool.Definition) { d.Install.Go.Version = "latest" },
		"package flag":   func(d *tool.Definition) { d.Install.Go.Package = "-toolexec=evil" },
		"package escape": func(d *tool.Definition) { d.Install.Go.Package = "../other/cmd" },
		"module version": func(d *tool.Definition) { d.Install.Go.Module = "example.com/x@v1" },
		"env":            func(d *tool.Definition) { d.Install.Go.Env = []string{"NOEQUALS"} },
		"apt dep flag":   func(d *tool.Definition) { d.Install.Go.AptDeps = []string{"--allow-unauthenticated"} },
		"both":           func(d *tool.Definition) { d.Install.Apt = []string{"nmap"} },
	}
	for name, change := range bad {
		d := goTool("tool")
		change(d)
		if err := validateRecipe(d); err == nil || !strings.Contains(err.Error(), "invalid recipe") {
			t.Errorf("%s: err = %v, want an invalid recipe", name, err)
		}
	}
	if err := validateRecipe(goTool("tool")); err != nil {
		t.Errorf("valid recipe: %v", err)
	}
	none := &tool.Definition{Name: "mine", Binary: "mine"}
	_, err := (&Installer{BinDir: t.TempDir()}).Install(context.Background(), none, false)
	if !errors.Is(err, ErrNoRecipe) {
		t.Errorf("no recipe: err = %v, want ErrNoRecipe", err)
	}
}

func TestDefaultBinDir(t *testing.T) {
	// Not parallel: it sets environment variables.
	t.Setenv("XDG_DATA_HOME", "/data")
	if d, err := DefaultBinDir(); err != nil || d != "/data/sortie/bin" {
		t.Errorf("with XDG_DATA_HOME: %q, %v", d, err)
	}
	t.Setenv("XDG_DATA_HOME", "relative")
	t.Setenv("HOME", "/home/u")
	if d, err := DefaultBinDir(); err != nil || d != "/home/u/.local/share/sortie/bin" {
		t.Errorf("relative XDG_DATA_HOME: %q, %v", d, err)
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	tb := &tailBuffer{max: 16}
	for i := 0; i < 10; i++ {
		tb.Write([]byte("line " + string(rune('0'+i)) + "\n"))
	}
	if got := tb.String(); got != "line 8\nline 9\n" {
		t.Errorf("tail = %q", got)
	}
	if got := lastLines("a\n\nb\nc\n", 2); got != "b | c" {
		t.Errorf("lastLines = %q", got)
	}
}
