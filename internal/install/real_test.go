package install

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/tool"
)

// TestInstallRealModule builds a real, tiny Go module from the module
// proxy with the user's Go caches: golang.org/x/example/hello has no
// dependencies, so a cold build costs about the standard library's compile
// (tens of seconds on 2 cores) and a warm one about a second.
func TestInstallRealModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module from the module proxy")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	t.Parallel()
	d := &tool.Definition{
		Name: "hello", Binary: "hello",
		Install: tool.Install{Go: &tool.GoInstall{
			Module: "golang.org/x/example/hello", Version: "v0.0.0-20250915201037-7f05d217867b",
			Package: ".", LDFlags: "-s -w",
		}},
		// hello has no version flag; its greeting stands in for one.
		Version: tool.VersionCommand{Args: []string{"-g", "v9.9.9"}, Regex: `^(v\S+), world!`},
	}
	testRealInstall(t, d, []string{"-g", "Bonjour", "sortie"}, "Bonjour, sortie!\n")
}

// TestInstallRealTool installs mapcidr exactly as "sortie install mapcidr"
// would. It needs the module proxy and several minutes for a cold build
// (see the package documentation), so it runs only with
// SORTIE_TEST_REAL_TOOLS=1.
func TestInstallRealTool(t *testing.T) {
	if testing.Short() || os.Getenv("SORTIE_TEST_REAL_TOOLS") != "1" {
		t.Skip("set SORTIE_TEST_REAL_TOOLS=1 to build a real tool")
	}
	t.Parallel()
	d := &tool.Definition{
		Name: "mapcidr", Binary: "mapcidr",
		Install: tool.Install{Go: &tool.GoInstall{
			Module: "github.com/projectdiscovery/mapcidr", Version: "v1.1.97", Package: "./cmd/mapcidr",
		}},
		Version: tool.VersionCommand{Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`},
	}
	testRealInstall(t, d, []string{"-cidr", "127.0.0.0/30", "-silent", "-duc"},
		"127.0.0.0\n127.0.0.1\n127.0.0.2\n127.0.0.3\n")
}

func testRealInstall(t *testing.T, d *tool.Definition, args []string, wantOut string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	binDir := t.TempDir()
	var log syncBuffer
	in := &Installer{BinDir: binDir, WorkDir: t.TempDir(), Log: &log}

	res, err := in.Install(ctx, d, false)
	if err != nil {
		t.Fatalf("Install: %v\nlog:\n%s", err, log.String())
	}
	t.Logf("built %s in %v (%s)", res.Recipe, res.Duration.Round(time.Millisecond), res.Path)
	if res.Skipped || res.Path != filepath.Join(binDir, d.Binary) {
		t.Errorf("result = %+v", res)
	}
	if wantVersion := strings.TrimPrefix(d.Install.Go.Version, "v"); d.Name == "mapcidr" && res.Version != wantVersion {
		t.Errorf("version = %q, want %q", res.Version, wantVersion)
	}
	if d.Name == "hello" && res.Version != "v9.9.9" {
		t.Errorf("version = %q, want the greeting v9.9.9", res.Version)
	}
	out, err := exec.CommandContext(ctx, res.Path, args...).Output()
	if err != nil {
		t.Fatalf("run %s: %v", res.Path, err)
	}
	if string(out) != wantOut {
		t.Errorf("%s printed %q, want %q", d.Binary, out, wantOut)
	}
	if got, err := in.Locate(d); err != nil || got != res.Path {
		t.Errorf("Locate = %q, %v", got, err)
	}
	noLeftovers(t, binDir)

	log2 := &syncBuffer{}
	in.Log = log2
	res, err = in.Install(ctx, d, false)
	if err != nil || !res.Skipped {
		t.Fatalf("second Install = %+v, %v; want skipped", res, err)
	}
	if strings.Contains(log2.String(), "installing") {
		t.Errorf("second Install log = %q", log2.String())
	}
	t.Logf("second install: %v", res.Duration)
}
