package install

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The test binary doubles as the commands the installer runs: a symlink to
// it named "go", "apt-get", "dpkg-query" or "faketool" makes it behave as a
// fake of that command (see fakeMain). Each fake appends its argv to
// "calls.log" in the symlink's directory, so tests can check what ran.

func TestMain(m *testing.M) {
	if code, ok := fakeMain(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// fakeDir creates a directory holding symlinks to the test binary named
// after the given commands, and returns it.
func fakeDir(t *testing.T, names ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(exe, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// calls returns the argv (without argv[0]) of every fake run in dir.
func calls(t *testing.T, dir string) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "calls.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var argv []string
		if err := json.Unmarshal([]byte(line), &argv); err != nil {
			t.Fatal(err)
		}
		out = append(out, argv)
	}
	return out
}

// fakeMain runs the fake named by argv[0], if it is one.
func fakeMain() (int, bool) {
	name := filepath.Base(os.Args[0])
	dir := filepath.Dir(os.Args[0])
	var run func(dir string, args []string) int
	switch name {
	case "go":
		run = fakeGo
	case "apt-get":
		run = fakeAptGet
	case "dpkg-query":
		run = fakeDpkgQuery
	case "faketool":
		run = fakeTool
	default:
		return 0, false
	}
	args := os.Args[1:]
	if line, err := json.Marshal(append([]string{name}, args...)); err == nil {
		f, err := os.OpenFile(filepath.Join(dir, "calls.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	return run(dir, args), true
}

// fakeGo implements "mod init", "mod download -json M@V" (a module whose
// path contains "missing" is not found; others get an empty directory under
// dir/mod) and "build ... -o OUT PKG", which writes a tiny shell script to
// OUT, fails with some output when FAKE_GO_BUILD_FAIL is set, or blocks
// until killed when FAKE_GO_BUILD_HANG is set (recipes set them through
// their Env).
func fakeGo(dir string, args []string) int {
	switch {
	case len(args) == 3 && args[0] == "mod" && args[1] == "init":
		return writeOrFail("go.mod", "module "+args[2]+"\n")
	case len(args) == 4 && args[0] == "mod" && args[1] == "download" && args[2] == "-json":
		path, version, _ := strings.Cut(args[3], "@")
		if strings.Contains(path, "missing") {
			fmt.Fprintf(os.Stdout, "{\n\t\"Path\": %q,\n\t\"Version\": %q,\n\t\"Error\": \"%s@%s: reading https://proxy.example/%s/@v/%s.info: 404 Not Found\"\n}\n",
				path, version, path, version, path, version)
			return 1
		}
		modDir := filepath.Join(dir, "mod", path+"@"+version)
		if err := os.MkdirAll(modDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		json.NewEncoder(os.Stdout).Encode(map[string]string{"Path": path, "Version": version, "Dir": modDir})
		return 0
	case len(args) > 0 && args[0] == "build":
		if os.Getenv("FAKE_GO_BUILD_HANG") != "" {
			select {}
		}
		if os.Getenv("FAKE_GO_BUILD_FAIL") != "" {
			fmt.Fprintln(os.Stdout, "go: downloading example.com/dep v1.0.0")
			fmt.Fprintln(os.Stderr, "# example.com/tool/cmd/tool")
			fmt.Fprintln(os.Stderr, "cmd/tool/main.go:3:2: undefined: frobnicate")
			return 1
		}
		i := slices.Index(args, "-o")
		if i < 0 || i+2 >= len(args) {
			fmt.Fprintln(os.Stderr, "fake go: build without -o OUT PKG")
			return 2
		}
		wd, _ := os.Getwd()
		script := fmt.Sprintf("#!/bin/sh\necho 'built from %s in %s with GOEXPERIMENT=%s'\n", args[i+2], wd, os.Getenv("GOEXPERIMENT"))
		if err := os.WriteFile(args[i+1], []byte(script), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "fake go: unexpected arguments %q\n", args)
	return 2
}

// fakeAptGet cannot locate any package until "update" has run.
func fakeAptGet(dir string, args []string) int {
	updated := filepath.Join(dir, "apt-updated")
	switch {
	case len(args) > 0 && args[0] == "update":
		return writeOrFail(updated, "")
	case len(args) > 0 && args[0] == "install":
		if _, err := os.Stat(updated); err != nil {
			fmt.Println("Reading package lists...")
			fmt.Fprintf(os.Stderr, "E: Unable to locate package %s\n", args[len(args)-1])
			return 100
		}
		return 0
	}
	return 2
}

// fakeDpkgQuery knows one installed package, "libpresent-dev".
func fakeDpkgQuery(_ string, args []string) int {
	p := args[len(args)-1]
	if p == "libpresent-dev" {
		fmt.Print("install ok installed")
		return 0
	}
	fmt.Fprintf(os.Stderr, "dpkg-query: no packages found matching %s\n", p)
	return 1
}

// fakeTool prints a coloured version line and facts about its environment,
// then exits 2 (some tools do after -version). With "hang" it blocks until
// killed.
func fakeTool(_ string, args []string) int {
	if len(args) > 0 && args[0] == "hang" {
		select {}
	}
	stdin := "other"
	in, err1 := os.Stdin.Stat()
	null, err2 := os.Stat(os.DevNull)
	if err1 == nil && err2 == nil && os.SameFile(in, null) {
		stdin = "devnull"
	}
	fmt.Fprintf(os.Stderr, "[\x1b[34mINF\x1b[0m] Current Version: \x1b[1mv1.2.3\x1b[0m\n")
	fmt.Printf("home=%s\nstdin=%s\n", os.Getenv("HOME"), stdin)
	return 2
}

func writeOrFail(path, content string) int {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
