package tool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sortie-sec/sortie/internal/redact"
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
	// redactor hides the values of sensitive options and the arguments
	// rendered from them.
	redactor *redact.Redactor
}

// Redact replaces the command's sensitive values in s (a line of the tool's
// output that echoes its arguments, say) with "[REDACTED]", in every form
// package redact knows.
func (c *Command) Redact(s string) string { return c.redactor.String(s) }

// Redactor hides the command's sensitive values (nil hides nothing).
func (c *Command) Redactor() *redact.Redactor { return c.redactor }

// Secrets returns a redactor for the values of the sensitive options among
// values: what a task redacts before a command is built.
func (d *Definition) Secrets(values map[string][]string) *redact.Redactor {
	var secrets []string
	for name, vs := range values {
		if d.IsSensitive(name) {
			secrets = append(secrets, vs...)
		}
	}
	return redact.New(secrets...)
}

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
			if err := d.checkValue(o, v); err != nil {
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
			if err := d.checkValue(o, values[0]); err != nil {
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
	cmd.redactor = redact.New(secrets...)
	cmd.Display = display(cmd.Argv, cmd.redactor)
	return cmd, nil
}

// display shell-quotes argv and redacts secret values: an argument that is
// a secret is hidden whole whatever its length, others wherever a secret
// appears in them.
func display(argv []string, r *redact.Redactor) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if r.Exact(a) {
			a = redact.Mask
		}
		parts[i] = shellQuote(r.String(a))
	}
	return strings.Join(parts, " ")
}

// checkValue validates v for o. The error for a sensitive option never
// shows the value: it says what the option takes instead.
func (d *Definition) checkValue(o Option, v string) error {
	err := o.CheckValue(v)
	if err == nil || !d.IsSensitive(o.Name) {
		return err
	}
	return &SensitiveValueError{Option: o.Name, Kind: o.Kind}
}

// SensitiveValueError is an invalid value of a sensitive option; its
// message never holds the value.
type SensitiveValueError struct {
	Option string
	Kind   Kind
}

func (e *SensitiveValueError) Error() string {
	want := "text without control characters that does not start with \"-\""
	switch e.Kind {
	case KindInt:
		want = "a whole number, 0 or more"
	case KindFloat:
		want = "a number, 0 or more"
	case KindBool:
		want = "true or false"
	case KindDuration:
		want = "a duration such as 5s or 500ms"
	}
	return fmt.Sprintf("option %s: invalid value (not shown: the option is sensitive); it takes %s", e.Option, want)
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
