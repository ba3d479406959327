package cli

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sortie-sec/sortie/internal/enginetest"
)

// The scripts in testdata/script run the real sortie command (this test
// binary, re-executed as "sortie") against tools defined in each script:
// custom YAML tools wrapping coreutils, so the CLI's behaviour is tested
// end to end without the security tools installed.
func TestMain(m *testing.M) {
	testscript.Main(cleanupM{m}, map[string]func(){
		"sortie": func() { os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// cleanupM removes the binaries the engine tests built once every test has
// run.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	enginetest.RemoveBuildDir()
	return code
}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Keep runs, caches and installs inside the script's sandbox.
			env.Setenv("XDG_DATA_HOME", env.WorkDir+"/data")
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/config")
			env.Setenv("SORTIE_TOOLS_DIR", "")
			return nil
		},
	})
}

func TestParseBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"512MiB": 512 << 20, "2GiB": 2 << 30, "1G": 1e9, "100000": 100000, "1.5KiB": 1536} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"2x", "-1", "GiB", "0"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}
