// Package install installs the pinned versions of sortie's tools and finds
// installed tools.
//
// Go tools are built from source at the exact version their definition pins:
// the module is fetched with "go mod download -json MODULE@VERSION" (which
// works on every proxy, unlike "go install MODULE@VERSION", which needs the
// module's version list), then its package is built with "go build" inside
// the downloaded module directory, with the module's own go.mod and go.sum.
// The binary goes to [Installer.BinDir] together with a marker file that
// records the recipe it was built from, so a second install of the same
// recipe does nothing. Builds use the user's normal Go caches (module cache
// and build cache), so rebuilding is cheap once a tool has been built once.
//
// Debian-packaged tools are installed with apt-get when sortie runs as root;
// otherwise the error names the exact command to run.
//
// Every command is run from an argv, never through a shell.
package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sortie-sec/sortie/internal/tool"
)

// Installer installs tools into BinDir. The zero value is usable: every
// field has a default. An Installer may be used by several goroutines, but
// two concurrent installs of the same tool race for the same files: callers
// install each tool once.
type Installer struct {
	// BinDir is the directory Go tools are installed into, with one marker
	// file per tool (".<binary>.version"). It is created when needed.
	// Defaults to $XDG_DATA_HOME/sortie/bin, i.e. ~/.local/share/sortie/bin.
	BinDir string

	// WorkDir is where the temporary module used to download tool modules
	// is created (and removed after the install). The module and build
	// caches are the user's usual ones (go env GOMODCACHE, GOCACHE), never a
	// scratch copy, so builds are cached between runs. Defaults to
	// os.TempDir().
	WorkDir string

	// Go is the go command used to download and build Go tools. Defaults to
	// "go", looked up in $PATH.
	Go string

	// Log receives progress lines ("installing nuclei v3.10.0 ...") and, when
	// a command fails, the tail of its output. Defaults to io.Discard.
	Log io.Writer

	// Root says that apt-get may be run (sortie runs as root). When false, a
	// missing Debian package is an error that names the sudo command to run.
	// Callers usually set it to os.Geteuid() == 0. Defaults to false.
	Root bool

	// aptGet and dpkgQuery replace the apt-get and dpkg-query commands in
	// tests.
	aptGet, dpkgQuery string

	// aptUpdated records that "apt-get update" ran once already.
	aptMu      sync.Mutex
	aptUpdated bool
}

// Result describes one install.
type Result struct {
	// Tool is the tool's name.
	Tool string
	// Path is the installed binary; empty when the install failed.
	Path string
	// Recipe is the recipe, as RecipeString prints it.
	Recipe string
	// Skipped is true when the tool was already installed and nothing was
	// done.
	Skipped bool
	// Version is what the installed binary reports, when the tool has a
	// version command and the command succeeded; empty otherwise.
	Version string
	// Duration is the time the install took.
	Duration time.Duration
}

// ErrNoRecipe is returned by Install for a tool that has no install recipe
// (a custom tool the user installs themselves).
var ErrNoRecipe = errors.New("no install recipe")

// DefaultBinDir returns $XDG_DATA_HOME/sortie/bin, or
// ~/.local/share/sortie/bin when XDG_DATA_HOME is unset or not absolute (as
// the XDG base directory specification requires).
func DefaultBinDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sortie", "bin"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("default bin directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "sortie", "bin"), nil
}

// settings is an Installer with its defaults applied; it is computed per
// call so that Installer's exported fields can be set at any time before
// use.
type settings struct {
	binDir, workDir, goCmd, aptGet, dpkgQuery string
	log                                       io.Writer
}

func (in *Installer) withDefaults() (settings, error) {
	s := settings{
		binDir: in.BinDir, workDir: in.WorkDir, goCmd: in.Go, log: in.Log,
		aptGet: in.aptGet, dpkgQuery: in.dpkgQuery,
	}
	if s.binDir == "" {
		d, err := DefaultBinDir()
		if err != nil {
			return s, err
		}
		s.binDir = d
	}
	if s.workDir == "" {
		s.workDir = os.TempDir()
	}
	if s.goCmd == "" {
		s.goCmd = "go"
	}
	if s.log == nil {
		s.log = io.Discard
	}
	if s.aptGet == "" {
		s.aptGet = "apt-get"
	}
	if s.dpkgQuery == "" {
		s.dpkgQuery = "dpkg-query"
	}
	return s, nil
}

// Install installs d's pinned version. A Go tool whose binary and marker in
// BinDir match the recipe, or an apt tool whose binary is on $PATH, is left
// alone (Result.Skipped) unless force is set. Cancelling ctx stops the
// running command (and its children) and leaves the previous installation,
// if any, in place.
func (in *Installer) Install(ctx context.Context, d *tool.Definition, force bool) (Result, error) {
	s, err := in.withDefaults()
	if err != nil {
		return Result{Tool: d.Name}, err
	}
	if err := validateRecipe(d); err != nil {
		return Result{Tool: d.Name}, err
	}
	start := time.Now()
	var res Result
	switch {
	case d.Install.Go != nil:
		res, err = in.installGo(ctx, s, d, force)
	default:
		res, err = in.installApt(ctx, s, d, force)
	}
	if err != nil {
		res = Result{}
	}
	res.Tool = d.Name
	res.Recipe = RecipeString(d)
	res.Duration = time.Since(start)
	return res, err
}

// validateRecipe rejects recipes that could not be run safely: a binary name
// that is a path, a package or version that would be read as a flag,
// malformed environment entries. Custom tools come from user YAML, so none of
// this is assumed.
func validateRecipe(d *tool.Definition) error {
	var problems []string
	if !validBinary(d.Binary) {
		problems = append(problems, fmt.Sprintf("binary %q must be a plain file name", d.Binary))
	}
	g, apt := d.Install.Go, d.Install.Apt
	switch {
	case g == nil && len(apt) == 0:
		return fmt.Errorf("install %s: %w: install %s yourself and put it on PATH", d.Name, ErrNoRecipe, d.Binary)
	case g != nil && len(apt) > 0:
		problems = append(problems, "recipe sets both go and apt")
	}
	if g != nil {
		if g.Module == "" || strings.HasPrefix(g.Module, "-") || strings.ContainsAny(g.Module, "@ \t\n") {
			problems = append(problems, fmt.Sprintf("go module %q is not a module path", g.Module))
		}
		if !strings.HasPrefix(g.Version, "v") || strings.ContainsAny(g.Version, "@ \t\n") {
			problems = append(problems, fmt.Sprintf("go version %q must be an exact version such as v1.2.3", g.Version))
		}
		if g.Package == "" || strings.HasPrefix(g.Package, "-") || strings.Contains(g.Package, "..") {
			problems = append(problems, fmt.Sprintf("go package %q must be a package of the module such as ./cmd/tool", g.Package))
		}
		for _, e := range g.Env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				problems = append(problems, fmt.Sprintf("go env entry %q is not KEY=VALUE", e))
			}
		}
		problems = append(problems, checkPackages("apt_deps", g.AptDeps)...)
	}
	problems = append(problems, checkPackages("apt", apt)...)
	if len(problems) > 0 {
		return fmt.Errorf("install %s: invalid recipe: %s", d.Name, strings.Join(problems, "; "))
	}
	return nil
}

func validBinary(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, "-")
}

func checkPackages(field string, pkgs []string) []string {
	var problems []string
	for _, p := range pkgs {
		if p == "" || strings.HasPrefix(p, "-") || strings.ContainsAny(p, " \t\n/") {
			problems = append(problems, fmt.Sprintf("%s package %q is not a package name", field, p))
		}
	}
	return problems
}

// installGo builds a Go tool into BinDir; see the package documentation.
func (in *Installer) installGo(ctx context.Context, s settings, d *tool.Definition, force bool) (Result, error) {
	g := d.Install.Go
	bin := filepath.Join(s.binDir, d.Binary)
	marker := markerPath(s.binDir, d.Binary)
	want := markerFor(g)
	res := Result{Path: bin}
	if !force && upToDate(bin, marker, want) {
		res.Skipped = true
		return res, nil
	}
	if err := in.ensureAptPackages(ctx, s, d.Name, g.AptDeps); err != nil {
		return res, err
	}
	fmt.Fprintf(s.log, "installing %s %s (go build, this can take minutes)\n", d.Name, g.Version)

	dir, err := goModDownload(ctx, s, g.Module+"@"+g.Version)
	if err != nil {
		return res, fmt.Errorf("install %s: %w", d.Name, err)
	}
	if err := os.MkdirAll(s.binDir, 0o755); err != nil {
		return res, fmt.Errorf("install %s: %w", d.Name, err)
	}
	// The old marker goes first: from here on, whatever is in BinDir is no
	// longer known to match the recipe until the new marker is written.
	if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("install %s: %w", d.Name, err)
	}
	tmpDir, err := os.MkdirTemp(s.binDir, ".tmp-"+d.Binary+"-")
	if err != nil {
		return res, fmt.Errorf("install %s: %w", d.Name, err)
	}
	defer os.RemoveAll(tmpDir)
	tmpBin := filepath.Join(tmpDir, d.Binary)

	args := []string{"build", "-trimpath"}
	if g.LDFlags != "" {
		args = append(args, "-ldflags", g.LDFlags)
	}
	args = append(args, "-o", tmpBin, g.Package)
	// GOWORK=off: a go.work of the user's must not pull the tool's build
	// into their workspace. The recipe's own variables come last and win.
	env := append(os.Environ(), "GOWORK=off")
	env = append(env, g.Env...)
	if _, err := run(ctx, s.log, command{dir: dir, env: env, argv: append([]string{s.goCmd}, args...)}); err != nil {
		return res, fmt.Errorf("install %s: %w", d.Name, err)
	}
	if err := os.Rename(tmpBin, bin); err != nil {
		return res, fmt.Errorf("install %s: %w", d.Name, err)
	}
	if err := writeFileAtomic(marker, []byte(want)); err != nil {
		return res, fmt.Errorf("install %s: write marker: %w", d.Name, err)
	}
	res.Version = in.reportVersion(ctx, s, bin, d)
	return res, nil
}

// reportVersion asks the freshly installed binary its version. A failure is
// logged, not returned: the binary is built and the recipe recorded, and a
// version regex that no longer matches is the definition's problem.
func (in *Installer) reportVersion(ctx context.Context, s settings, path string, d *tool.Definition) string {
	if len(d.Version.Args) == 0 {
		return ""
	}
	v, err := Version(ctx, path, d)
	if err != nil {
		fmt.Fprintf(s.log, "warning: %v\n", err)
		return ""
	}
	return v
}

// goModDownload downloads mod@version into the module cache and returns
// its directory. "go mod download" needs a main module to run in, so a
// throw-away one is created in WorkDir.
func goModDownload(ctx context.Context, s settings, modVersion string) (string, error) {
	tmp, err := os.MkdirTemp(s.workDir, "sortie-install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env := append(os.Environ(), "GOWORK=off")
	if _, err := run(ctx, s.log, command{dir: tmp, env: env, argv: []string{s.goCmd, "mod", "init", "sortie-install"}}); err != nil {
		return "", err
	}
	out, err := run(ctx, s.log, command{dir: tmp, env: env, argv: []string{s.goCmd, "mod", "download", "-json", modVersion}})
	var info struct {
		Path, Version, Dir, Error string
	}
	if jerr := json.Unmarshal(out, &info); jerr != nil {
		if err != nil {
			return "", err
		}
		return "", fmt.Errorf("go mod download %s: read its output: %w", modVersion, jerr)
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", modVersion, info.Error)
	}
	if err != nil {
		return "", err
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no module directory in its output", modVersion)
	}
	return info.Dir, nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
