package tool

import (
	"errors"
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
	// secrets are the values Redact hides, longest first.
	secrets []string
}

// Redact replaces the command's sensitive values in s (a line of the tool's
// output that echoes its arguments, say) with "[REDACTED]".
func (c *Command) Redact(s string) string { return redact(s, c.secrets) }

// IsSensitive reports whether the option's values must never be shown.
func (d *Definition) IsSensitive(option string) bool {
	if slices.Contains(d.Sensitive, option) {
		return true
	}
	o, ok := d.Option(option)
	return ok && o.Sensitive
}

// CheckOptions validates option values without building a command: every
// name must be an option of the tool and every value must suit its kind.
func (d *Definition) CheckOptions(values map[string][]string) error {
	var errs []error
	for name, vs := range values {
		o, ok := d.Option(name)
		if !ok {
			errs = append(errs, fmt.Errorf("%s has no option %q", d.Name, name))
			continue
		}
		for _, v := range vs {
			if err := o.CheckValue(v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
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
	if err := d.CheckOptions(inv.Options); err != nil {
		return nil, err
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
		if len(inv.Options[o.Name]) == 0 { // a default: checked here, user values above
			if err := o.CheckValue(values[0]); err != nil {
				return nil, err
			}
		}
		values = o.canonicalValues(values)
		rendered := d.Options[o.Name].args(o, values)
		if d.IsSensitive(o.Name) {
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
	// Longest first, so that a secret that is a prefix of another cannot
	// leave the rest of the longer one visible.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	cmd.secrets = secrets
	cmd.Display = display(cmd.Argv, secrets)
	return cmd, nil
}

// display shell-quotes argv and redacts secret values wherever they appear.
func display(argv []string, secrets []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = shellQuote(redact(a, secrets))
	}
	return strings.Join(parts, " ")
}

func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
