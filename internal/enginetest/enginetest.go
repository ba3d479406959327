// Package enginetest holds what the engine, worker, CLI and chaos tests
// share: the fake tool, built once per test binary, its definition, and an
// embedded engine per test.
package enginetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/signing"
	"github.com/sortie-sec/sortie/internal/tool"
	"github.com/sortie-sec/sortie/internal/worker"
)

// FakeToolYAML defines the fake tool for sortie's custom tool loader.
const FakeToolYAML = `name: faketool
description: test tool that prints one url per target
binary: faketool
inputs: [host, ip, url, host:port, string]
input: {mode: file, flag: -l}
options: {header: -H}
extra_options:
  - {name: lines, kind: int, flag: -n, help: "lines per target"}
  - {name: sleep, kind: string, flag: -sleep, help: "pause after each target"}
  - {name: ignore_int, kind: bool, flag: -ignore-int, help: "ignore SIGINT"}
  - {name: kill_parent, kind: bool, flag: -kill-parent, help: "SIGKILL the parent"}
  - {name: kill_parent_on, kind: string, flag: -kill-parent-on, help: "SIGKILL the parent if this target is in the chunk"}
output: {format: jsonl}
findings:
  - type: url
    when: url
    fields:
      url: "{url}"
`

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// BuildDir builds the fake tool and, when withSortie, the sortie binary into
// one directory shared by the whole test binary, and returns it. The caller
// removes nothing: Cleanup runs at process exit via RemoveBuildDir.
func BuildDir(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "sortie-enginetest-")
		if buildErr != nil {
			return
		}
		pkgs := map[string]string{
			"faketool": "github.com/sortie-sec/sortie/internal/enginetest/faketool",
			"sortie":   "github.com/sortie-sec/sortie/cmd/sortie",
		}
		for name, pkg := range pkgs {
			cmd := exec.Command(goBin(), "build", "-o", filepath.Join(buildDir, name), pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = &buildError{pkg: pkg, out: string(out), err: err}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// RemoveBuildDir removes the binaries; call it from TestMain after m.Run.
func RemoveBuildDir() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

type buildError struct {
	pkg, out string
	err      error
}

func (e *buildError) Error() string { return "build " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

// goBin is the go command that runs these tests: the one of the running
// toolchain ("go env GOROOT" of the go on PATH), or "go".
func goBin() string {
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// FakeTool returns the built fake tool's path.
func FakeTool(t testing.TB) string { return filepath.Join(BuildDir(t), "faketool") }

// Sortie returns the built sortie binary's path.
func Sortie(t testing.TB) string { return filepath.Join(BuildDir(t), "sortie") }

// ToolsDir writes the fake tool's definition into a new directory for
// "sortie --tools-dir".
func ToolsDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "faketool.yaml"), []byte(FakeToolYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Registry is the built-in registry plus the fake tool.
func Registry(t testing.TB) *tool.Registry {
	t.Helper()
	d, err := tool.ParseDefinition("faketool.yaml", []byte(FakeToolYAML))
	if err != nil {
		t.Fatal(err)
	}
	r := tool.NewRegistry()
	if err := r.Add(d); err != nil {
		t.Fatal(err)
	}
	return r
}

// Locate finds every tool's binary in the build directory.
func Locate(t testing.TB) func(*tool.Definition) (string, error) {
	dir := BuildDir(t)
	return func(d *tool.Definition) (string, error) {
		p := filepath.Join(dir, d.Binary)
		if !fileExists(p) {
			return "", &os.PathError{Op: "locate", Path: p, Err: os.ErrNotExist}
		}
		return p, nil
	}
}

// Embedded starts an embedded engine with its store in a test directory.
func Embedded(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.Open(context.Background(), engine.Config{Dir: t.TempDir(), SigningKey: Key(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// StartWorker starts an in-process worker on e that runs the fake tool, and
// stops it when the test ends. Unset Engine, Registry, Locate and WorkDir
// are filled in; FetchWait is short, since a stop waits for the fetch in
// flight.
func StartWorker(t testing.TB, e *engine.Engine, cfg worker.Config) *worker.Worker {
	t.Helper()
	cfg.Engine = e
	if cfg.Trust == nil {
		cfg.Trust = Trust(t)
	}
	if cfg.Registry == nil {
		cfg.Registry = Registry(t)
	}
	if cfg.Locate == nil {
		cfg.Locate = Locate(t)
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.FetchWait == 0 {
		cfg.FetchWait = 100 * time.Millisecond
	}
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w.Stop(ctx)
	})
	return w
}

// Main runs a test binary's tests (call it from TestMain and os.Exit with
// its result), then removes the built binaries and, when the tests passed,
// checks that no goroutine leaked.
func Main(m *testing.M) int {
	code := m.Run()
	RemoveBuildDir()
	if code == 0 {
		// An embedded server's last goroutine can outlive its Shutdown by a
		// moment; it is the server's, not a leak of sortie's.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}

var (
	keyOnce sync.Once
	key     *signing.Key
	keyErr  error
)

// Key is the test binary's submitter key: Embedded signs with it, and
// StartWorker, Worker and TrustFile trust it.
func Key(t testing.TB) *signing.Key {
	t.Helper()
	keyOnce.Do(func() { key, keyErr = signing.Generate() })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return key
}

// Trust trusts exactly Key.
func Trust(t testing.TB) *signing.Trust { return signing.NewTrust(Key(t).Public()) }

// TrustFile writes Key's public key to a new trust file for "sortie
// worker --trust".
func TrustFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trusted.keys")
	if err := os.WriteFile(p, []byte(Key(t).Public().String()+" enginetest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// KeyFile saves Key to a new private key file for "sortie x
// --signing-key".
func KeyFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "signing.key")
	if err := signing.SaveKey(p, Key(t)); err != nil {
		t.Fatal(err)
	}
	return p
}

// RecordingLocate is Locate with the fake tool linked into a directory of
// its own, where it records each run's targets; invocations returns them,
// one line per run of the tool.
func RecordingLocate(t testing.TB) (locate func(*tool.Definition) (string, error), invocations func() []string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "faketool")
	if err := os.Symlink(FakeTool(t), bin); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "invocations")
	if err := os.WriteFile(log, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	locate = func(d *tool.Definition) (string, error) {
		if d.Binary != "faketool" {
			return "", &os.PathError{Op: "locate", Path: d.Binary, Err: os.ErrNotExist}
		}
		return bin, nil
	}
	invocations = func() []string {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
	}
	return locate, invocations
}
