// Package cli is sortie's command line: one file per command, each with a
// constructor, an options struct and a run function that tests call
// directly. Errors are printed in one place (Main) and mapped to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/install"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/termsafe"
	"github.com/sortie-sec/sortie/internal/tool"
)

// Exit codes, documented in the README.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitUsage   = 2
	ExitPartial = 3
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	// JSON streams findings as JSON lines on stdout.
	JSON bool
	// ToolsDir holds the user's custom tool definitions. Defaults to
	// $XDG_CONFIG_HOME/sortie/tools.
	ToolsDir string
	// Quiet hides the live view and the summary.
	Quiet bool

	// Config is the config file. Defaults to
	// $XDG_CONFIG_HOME/sortie/config.yaml.
	Config string
	// LogFormat is how logs are written: text or json.
	LogFormat string
	// LogLevel is the lowest level logged: debug, info, warn, error.
	LogLevel string

	engine engineOptions

	stdin          io.Reader
	stdout, stderr io.Writer
	registry       *tool.Registry
}

// logger writes structured logs to stderr.
func (g *globalOptions) logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(g.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if g.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// partialError means the command ran but its results are incomplete (a tool
// was stopped by a limit or cancelled): exit code 3.
type partialError struct{ msg string }

func (e partialError) Error() string { return e.msg }

// hintError adds a hint line to an error.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return hintError{err: err, hint: hint} }

// Main runs sortie with args and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globalOptions{stdin: stdin, stdout: stdout, stderr: stderr}
	root, err := newRootCommand(g, args)
	if err == nil && !completing(args) && !reportsBroken(root, g.registry, args) {
		warnBroken(stderr, g.registry)
	}
	if err == nil {
		root.SetArgs(args)
		root.SetIn(stdin)
		root.SetOut(stdout)
		root.SetErr(stderr)
		err = root.ExecuteContext(ctx)
	}
	return reportError(stderr, err)
}

// completing reports whether args are the shell asking for completions:
// warnings would land in the middle of the user's command line.
func completing(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
}

// reportsBroken reports whether the command args run tells of broken tools
// itself: "sortie tools" lists them, and "sortie x NAME" for a broken NAME
// says why it is disabled.
func reportsBroken(root *cobra.Command, reg *tool.Registry, args []string) bool {
	c, rest, err := root.Find(args)
	if err != nil || c.Parent() != root {
		return false
	}
	if c.Name() == "tools" {
		return true
	}
	if c.Name() != "x" {
		return false
	}
	for _, a := range rest {
		if !strings.HasPrefix(a, "-") {
			_, err := reg.Get(a)
			var be *tool.BrokenToolError
			return errors.As(err, &be)
		}
	}
	return false
}

// warnBroken says which custom tools are disabled and why; every other
// command works.
func warnBroken(stderr io.Writer, reg *tool.Registry) {
	broken := reg.Broken()
	for _, b := range broken {
		fmt.Fprintf(stderr, "sortie: warning: custom tool %q is disabled:%s\n", b.Name, termsafe.CleanLines(indentLines(b.Err.Error())))
	}
	if len(broken) > 0 {
		fmt.Fprintln(stderr, "hint: fix or remove the file; see docs/custom-tools.md")
	}
}

// reportError prints err the house way and returns its exit code.
func reportError(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	// Messages can quote targets, tool output and server data: made safe
	// for a terminal, line feeds kept.
	var pe partialError
	if errors.As(err, &pe) {
		fmt.Fprintf(stderr, "sortie: %s\n", termsafe.CleanLines(pe.msg))
		return ExitPartial
	}
	fmt.Fprintf(stderr, "sortie: error: %s\n", termsafe.CleanLines(err.Error()))
	var he hintError
	if errors.As(err, &he) {
		fmt.Fprintf(stderr, "hint: %s\n", termsafe.CleanLines(he.hint))
	}
	return exitCode(err)
}

// exitCode maps an error to the exit code of the README's table; it is the
// only place that does.
func exitCode(err error) int {
	var (
		pe partialError
		ue usageError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &pe):
		return ExitPartial
	case errors.As(err, &ue):
		return ExitUsage
	case cobraUsage(err):
		return ExitUsage
	}
	return ExitError
}

// cobraUsage reports whether err is cobra's own complaint about a command
// line it could not match to a command: cobra makes these with fmt.Errorf,
// so only their text tells them.
func cobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "required flag(s) ", "accepts ", "requires at least ", "requires at most ", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func newRootCommand(g *globalOptions, args []string) (*cobra.Command, error) {
	root := &cobra.Command{
		Use:   "sortie",
		Short: "Run security tools as tasks and get one typed findings schema",
		Long: `sortie runs security tools (httpx, nmap, nuclei, ffuf, katana, ...) as tasks and
normalises their output into one typed findings schema.

Exit codes: 0 ok, 1 error, 2 usage, 3 partial results.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.BoolVar(&g.JSON, "json", false, "stream findings as JSON lines on stdout")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "no live view or summary")
	pf.StringVar(&g.ToolsDir, "tools-dir", "", "directory of custom tool definitions (default $XDG_CONFIG_HOME/sortie/tools)")
	pf.StringVar(&g.Config, "config", "", "config `FILE` (default $XDG_CONFIG_HOME/sortie/config.yaml)")
	pf.StringVar(&g.LogFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&g.LogLevel, "log-level", "info", "lowest log level: debug, info, warn or error")
	g.engine.flags(pf)

	// Tool subcommands depend on the custom tools directory, which must be
	// known before the flags are parsed: read it from the arguments first.
	reg, err := loadRegistry(toolsDirFromArgs(args))
	if err != nil {
		return nil, err
	}
	g.registry = reg
	root.AddCommand(
		newTaskCommand(g),
		newImportCommand(g),
		newToolsCommand(g),
		newInstallCommand(g),
		newHealthCommand(g),
		newWorkerCommand(g),
		newServerCommand(g),
		newRunsCommand(g),
		newWorkersCommand(g),
		newKeysCommand(g),
	)
	// The completion command keeps the writer it is made with.
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.InitDefaultCompletionCmd(args...)
	refuseUnknownSubcommands(root)
	cfgPath, explicit := configPath(configFromArgs(args))
	cfg, err := loadConfig(cfgPath, explicit)
	if err != nil {
		return nil, err
	}
	if err := checkConfigKeys(root, cfg, cfgPath); err != nil {
		return nil, err
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applySettings(cmd, cfg, cfgPath); err != nil {
			return err
		}
		if g.LogFormat != "text" && g.LogFormat != "json" {
			return usagef("--log-format %q: want text or json", g.LogFormat)
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(g.LogLevel)); err != nil {
			return usagef("--log-level %q: want debug, info, warn or error", g.LogLevel)
		}
		return nil
	}
	return root, nil
}

// refuseUnknownSubcommands makes a command that only groups others (keys,
// completion) refuse an argument that names none of them, as the root
// does: cobra would print the help and exit 0.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c.Runnable() || !c.HasSubCommands() || !c.HasParent() {
		return
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
		}
		return usageError{errors.New(msg)}
	}
}

// configFromArgs finds --config in the raw arguments: the config file is
// read before the flags are parsed.
func configFromArgs(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// toolsDirFromArgs finds --tools-dir in the raw arguments, then
// SORTIE_TOOLS_DIR, then the XDG default.
func toolsDirFromArgs(args []string) (dir string) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--tools-dir="); ok {
			return v
		}
		if a == "--tools-dir" && i+1 < len(args) {
			return args[i+1]
		}
	}
	if v := os.Getenv("SORTIE_TOOLS_DIR"); v != "" {
		return v
	}
	return ""
}

func configDir() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "sortie")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config", "sortie")
	}
	return ""
}

// loadRegistry returns the built-in tools plus the custom ones in dir (or the
// default directory when dir is empty; a missing default is fine, a missing
// explicit one is not).
func loadRegistry(dir string) (*tool.Registry, error) {
	reg := tool.NewRegistry()
	explicit := dir != ""
	if !explicit {
		if c := configDir(); c != "" {
			dir = filepath.Join(c, "tools")
		}
	}
	if dir == "" {
		return reg, nil
	}
	if _, err := os.Stat(dir); err != nil {
		if explicit || !errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("tools directory %s: %v", dir, err)
		}
		return reg, nil
	}
	if err := tool.LoadDir(reg, dir); err != nil {
		return nil, usageError{err}
	}
	return reg, nil
}

func newInstaller(g *globalOptions) (*install.Installer, error) {
	d, err := report.DataDir()
	if err != nil {
		return nil, err
	}
	return &install.Installer{BinDir: filepath.Join(d, "bin"), Log: g.stderr, Root: os.Geteuid() == 0}, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
