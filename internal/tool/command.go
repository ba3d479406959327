package tool

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Invocation is one run of a tool: its targets (already validated and
// filtered to the types the tool accepts), option values by name, and the
// task directory the tool runs in.
type Invocation struct {
	Targets []string
	// Options maps option names to their values; a list option may have
	// several, other options use the last.
	Options map[string][]string
	Dir     string
}

// Command is the exact command for an invocation.
type Command struct {
	Argv []string
	// Stdin is written to the tool's stdin (InputStdin), or nil.
	Stdin []byte
	// OutputFile is where the tool writes its results (Output.File), or "".
	OutputFile string
	// Display is Argv as a shell-quoted string with sensitive values
	// replaced by "[REDACTED]", for logs, reports and the user.
	Display string
}

// Build validates the options and returns the command for inv. Input files
// are written into inv.Dir.
func (d *Definition) Build(inv Invocation) (*Command, error) {
	if len(inv.Targets) == 0 {
		return nil, fmt.Errorf("%s: no targets", d.Name)
	}
	for _, t := range inv.Targets {
		if strings.HasPrefix(t, "-") {
			return nil, fmt.Errorf("%s: target %q starts with \"-\"", d.Name, t)
		}
	}
	targets := inv.Targets
	if d.TargetArg != nil {
		targets = make([]string, len(inv.Targets))
		for i, t := range inv.Targets {
			if targets[i] = d.TargetArg(t); strings.HasPrefix(targets[i], "-") {
				return nil, fmt.Errorf("%s: target %q starts with \"-\"", d.Name, targets[i])
			}
		}
	}
	if d.SingleTarget && len(inv.Targets) > 1 {
		return nil, fmt.Errorf("%s takes one target per run, got %d", d.Name, len(inv.Targets))
	}
	cmd := &Command{Argv: []string{d.Binary}}
	var secrets []string
	for _, o := range d.OptionSet() {
		values := inv.Options[o.Name]
		if len(values) == 0 && o.Default != "" {
			values = []string{o.Default}
		}
		if len(values) == 0 {
			continue
		}
		for _, v := range values {
			if err := o.CheckValue(v); err != nil {
				return nil, err
			}
		}
		rendered := d.Options[o.Name].args(o, values)
		if o.Sensitive || slices.Contains(d.Sensitive, o.Name) {
			secrets = append(secrets, values...)
			// Args may reshape a value (naabu splits a proxy URL into
			// host:port and credentials): what it renders is secret too.
			for _, a := range rendered {
				if !strings.HasPrefix(a, "-") {
					secrets = append(secrets, a)
				}
			}
		}
		cmd.Argv = append(cmd.Argv, rendered...)
	}
	for name := range inv.Options {
		if _, ok := d.Option(name); !ok {
			return nil, fmt.Errorf("%s has no option %q", d.Name, name)
		}
	}
	cmd.Argv = append(cmd.Argv, d.Fixed...)
	if len(d.Output.File) > 0 {
		cmd.OutputFile = filepath.Join(inv.Dir, "output."+string(d.Output.Format))
		for _, a := range d.Output.File {
			cmd.Argv = append(cmd.Argv, strings.ReplaceAll(a, "{file}", cmd.OutputFile))
		}
	}
	switch d.Input.Mode {
	case InputArg:
		cmd.Argv = append(cmd.Argv, targets...)
	case InputFlag:
		for _, t := range targets {
			cmd.Argv = append(cmd.Argv, d.Input.Flag, t)
		}
	case InputFile:
		path := filepath.Join(inv.Dir, "targets.txt")
		if err := os.WriteFile(path, []byte(strings.Join(targets, "\n")+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write targets file: %w", err)
		}
		cmd.Argv = append(cmd.Argv, d.Input.Flag, path)
	case InputStdin:
		cmd.Stdin = []byte(strings.Join(targets, "\n") + "\n")
	default:
		return nil, fmt.Errorf("%s: unknown input mode %q", d.Name, d.Input.Mode)
	}
	cmd.Display = display(cmd.Argv, secrets)
	return cmd, nil
}

// display shell-quotes argv and redacts secret values wherever they appear.
func display(argv []string, secrets []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		for _, s := range secrets {
			if s != "" {
				a = strings.ReplaceAll(a, s, "[REDACTED]")
			}
		}
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
