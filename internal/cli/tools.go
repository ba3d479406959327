package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/install"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/safefile"
	"github.com/sortie-sec/sortie/internal/termsafe"
	"github.com/sortie-sec/sortie/internal/tool"
)

func newToolsCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "tools",
		Short: "List tools, whether they are installed, and their versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTools(cmd.Context(), g)
		},
	}
}

// toolStatus is one row of "sortie tools".
type toolStatus struct {
	Name string `json:"name"`
	// State is installed, missing or broken (a custom tool whose definition
	// does not load).
	State     string `json:"state"`
	Installed bool   `json:"installed"`
	Path      string `json:"path,omitempty"`
	Version   string `json:"version,omitempty"`
	// Pinned is the version "sortie install" installs: a Go module's
	// version, "apt" for a Debian package, empty for a custom tool.
	Pinned string `json:"pinned,omitempty"`
	// Install is the whole recipe, build flags included.
	Install string `json:"install,omitempty"`
	Inputs  string `json:"inputs,omitempty"`
	// Error says why a broken tool does not load.
	Error string `json:"error,omitempty"`
}

// pinnedVersion is what "sortie tools" shows of d's install recipe.
func pinnedVersion(d *tool.Definition) string {
	switch {
	case d.Install.Go != nil:
		return d.Install.Go.Version
	case len(d.Install.Apt) > 0:
		return "apt"
	}
	return ""
}

func runTools(ctx context.Context, g *globalOptions) error {
	in, err := newInstaller(g)
	if err != nil {
		return err
	}
	defs := g.registry.All()
	rows := make([]toolStatus, len(defs))
	var wg sync.WaitGroup
	for i, d := range defs {
		rows[i] = toolStatus{Name: d.Name, State: "missing", Pinned: pinnedVersion(d), Install: install.RecipeString(d), Inputs: d.InputList()}
		path, err := in.Locate(d)
		if err != nil {
			continue
		}
		rows[i].State, rows[i].Installed, rows[i].Path = "installed", true, path
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i].Version = cachedVersion(ctx, path, d)
		}()
	}
	wg.Wait()
	for _, b := range g.registry.Broken() {
		rows = append(rows, toolStatus{Name: b.Name, State: "broken", Path: b.File, Error: b.Err.Error()})
	}
	if g.JSON {
		enc := json.NewEncoder(jsonOut(g.stdout))
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	sw := termsafe.NewWriter(tw) // versions are what the tools printed
	fmt.Fprintln(tw, "TOOL\tSTATE\tVERSION\tPINNED\tINPUTS\tPATH")
	missing, broken := 0, 0
	for _, r := range rows {
		switch r.State {
		case "missing":
			missing++
		case "broken":
			broken++
		}
		fmt.Fprintf(sw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, dash(r.Version), dash(r.Pinned), dash(r.Inputs), dash(r.Path))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if missing > 0 {
		fmt.Fprintf(g.stderr, "sortie: %d tools missing: \"sortie install TOOL...\" or \"sortie install --all\"\n", missing)
	}
	for _, b := range g.registry.Broken() {
		fmt.Fprintf(g.stderr, "sortie: %s is broken:%s\n", b.Name, termsafe.CleanLines(indentLines(b.Err.Error())))
	}
	return nil
}

// indentLines is a message to print after a colon: on the same line when it
// has one line, else each line on its own, indented.
func indentLines(s string) string {
	if !strings.Contains(s, "\n") {
		return " " + s
	}
	return "\n  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// toolError is the usage error for a tool name the registry does not give:
// unknown, or a custom tool whose definition does not load.
func toolError(err error) error {
	var be *tool.BrokenToolError
	if errors.As(err, &be) {
		return usageError{withHint(err, "fix or remove "+be.File+"; see docs/custom-tools.md")}
	}
	return usageError{err}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type installOptions struct {
	// All installs every built-in tool.
	All bool
	// Force rebuilds tools that are already installed.
	Force bool
}

func newInstallCommand(g *globalOptions) *cobra.Command {
	opts := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install TOOL... | --all",
		Short: "Install tools at their pinned versions",
		Long: `Install tools at the versions sortie pins. Go tools are built from their module
at the exact version into $XDG_DATA_HOME/sortie/bin; Debian packages are
installed with apt-get when running as root (otherwise the command is printed).
Tools already installed at the pinned version are skipped.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInstall(cmd.Context(), g, opts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "install every tool")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "reinstall even when installed")
	return cmd
}

func runInstall(ctx context.Context, g *globalOptions, opts *installOptions, names []string) error {
	if opts.All == (len(names) > 0) {
		return usagef("name the tools to install, or pass --all")
	}
	var defs []*tool.Definition
	if opts.All {
		defs = g.registry.All()
	}
	for _, n := range names {
		d, err := g.registry.Get(n)
		if err != nil {
			return toolError(err)
		}
		defs = append(defs, d)
	}
	in, err := newInstaller(g)
	if err != nil {
		return err
	}
	var failed []string
	for _, d := range defs {
		if d.Install.Go == nil && len(d.Install.Apt) == 0 {
			fmt.Fprintf(g.stderr, "sortie: %s: no install recipe (custom tool): install %s yourself\n", d.Name, d.Binary)
			continue
		}
		start := time.Now()
		res, err := in.Install(ctx, d, opts.Force)
		if err != nil {
			fmt.Fprintf(g.stderr, "sortie: error: install %s: %s\n", d.Name, termsafe.CleanLines(err.Error()))
			failed = append(failed, d.Name)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		what := "installed"
		if res.Skipped {
			what = "already installed"
		}
		if res.Version != "" {
			what += " " + res.Version
		}
		fmt.Fprintf(g.stdout, "%-10s %s at %s (%s)\n", d.Name, termsafe.Clean(what), termsafe.Clean(res.Path), time.Since(start).Round(100*time.Millisecond))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d tools failed to install: %s", len(failed), len(defs), strings.Join(failed, ", "))
	}
	return nil
}

func newHealthCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Check that sortie can run here: directories, Go, apt, tools",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHealth(cmd.Context(), g)
		},
	}
}

func runHealth(_ context.Context, g *globalOptions) error {
	problems := 0
	check := func(name string, err error, okMsg string) {
		if err != nil {
			problems++
			fmt.Fprintf(g.stdout, "FAIL  %-14s %s\n", name, termsafe.CleanLines(err.Error()))
			return
		}
		fmt.Fprintf(g.stdout, "ok    %-14s %s\n", name, okMsg)
	}
	data, err := report.DataDir()
	if err == nil {
		err = writable(data)
	}
	check("data dir", err, data)
	goPath, err := exec.LookPath("go")
	check("go", err, goPath+" (builds Go tools)")
	if _, err := exec.LookPath("apt-get"); err != nil {
		fmt.Fprintf(g.stdout, "warn  %-14s apt-get not found: Debian tools must be installed by hand\n", "apt")
	} else if os.Geteuid() != 0 {
		fmt.Fprintf(g.stdout, "warn  %-14s not root: sortie prints the apt-get command instead of running it\n", "apt")
	} else {
		fmt.Fprintf(g.stdout, "ok    %-14s apt-get as root\n", "apt")
	}
	in, err := newInstaller(g)
	if err != nil {
		return err
	}
	var missing []string
	for _, d := range g.registry.All() {
		if _, err := in.Locate(d); err != nil {
			missing = append(missing, d.Name)
		}
	}
	n := len(g.registry.All())
	if len(missing) > 0 {
		fmt.Fprintf(g.stdout, "warn  %-14s %d of %d installed; missing: %s (sortie install --all)\n", "tools", n-len(missing), n, strings.Join(missing, ", "))
	} else {
		fmt.Fprintf(g.stdout, "ok    %-14s all %d installed\n", "tools", n)
	}
	if broken := g.registry.Broken(); len(broken) > 0 {
		names := make([]string, len(broken))
		for i, b := range broken {
			names[i] = b.Name
		}
		fmt.Fprintf(g.stdout, "warn  %-14s %d disabled, their definitions do not load: %s (sortie tools says why)\n", "custom tools", len(broken), termsafe.Clean(strings.Join(names, ", ")))
	}
	if problems > 0 {
		return fmt.Errorf("%d health checks failed", problems)
	}
	return nil
}

func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".health-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// cachedVersion returns the tool's version, asking the binary only when the
// cache has no entry for this exact file (path, size, modification time):
// version commands cost a tool start-up on every run otherwise.
func cachedVersion(ctx context.Context, bin string, d *tool.Definition) string {
	st, err := os.Stat(bin)
	if err != nil {
		return ""
	}
	key := fmt.Sprintf("%s|%d|%d", bin, st.Size(), st.ModTime().UnixNano())
	data, _ := report.DataDir()
	cacheFile := filepath.Join(data, "cache", "versions.json")
	versionCacheMu.Lock()
	cache := map[string]string{}
	if b, err := os.ReadFile(cacheFile); err == nil {
		_ = json.Unmarshal(b, &cache)
	}
	v, ok := cache[key]
	versionCacheMu.Unlock()
	if ok && !strings.HasPrefix(v, "!") && v != "" {
		return v
	}
	// A failure is cached too (as "!" and its time): a tool whose version
	// command hangs must not cost every run its timeout. It is asked again
	// an hour later (its environment may have been fixed: dirsearch's
	// interpreter), and at once for a new binary, which gets a new key.
	if t, err := strconv.ParseInt(strings.TrimPrefix(v, "!"), 10, 64); ok && err == nil && time.Since(time.Unix(t, 0)) < versionRetry {
		return ""
	}
	v, err = install.Version(ctx, bin, d)
	if err != nil {
		v = "!" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	versionCacheMu.Lock()
	defer versionCacheMu.Unlock()
	if b, err := os.ReadFile(cacheFile); err == nil {
		_ = json.Unmarshal(b, &cache)
	}
	cache[key] = v
	if b, err := json.Marshal(cache); err == nil && os.MkdirAll(filepath.Dir(cacheFile), 0o755) == nil {
		_ = safefile.WriteAtomic(cacheFile, b, 0o644) // a random temporary name, never a link followed
	}
	if strings.HasPrefix(v, "!") {
		return ""
	}
	return v
}

// versionRetry is how long a failed version command is not run again.
const versionRetry = time.Hour

var versionCacheMu sync.Mutex
