package install

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sortie-sec/sortie/internal/tool"
)

// ErrMissing is wrapped by the error Locate returns when a tool's binary is
// found neither in BinDir nor on $PATH.
var ErrMissing = errors.New("tool is not installed")

// MissingError says that a tool is not installed and how to install it. It
// wraps ErrMissing.
type MissingError struct {
	Tool   string
	Binary string
	// Command installs the tool ("sortie install httpx"); empty when the
	// tool has no recipe and the user installs it themselves.
	Command string
}

func (e *MissingError) Error() string {
	if e.Command == "" {
		if filepath.IsAbs(e.Binary) {
			return fmt.Sprintf("%s is not installed: %s is not an executable file", e.Tool, e.Binary)
		}
		return fmt.Sprintf("%s is not installed: put %s on PATH", e.Tool, e.Binary)
	}
	return fmt.Sprintf("%s is not installed: run %q", e.Tool, e.Command)
}

func (e *MissingError) Unwrap() error { return ErrMissing }

// Locate returns the path of d's binary: BinDir first (where Install puts
// Go tools), then $PATH. A binary found in neither gives a *MissingError.
func (in *Installer) Locate(d *tool.Definition) (string, error) {
	// A custom tool may name its binary by absolute path.
	if filepath.IsAbs(d.Binary) {
		if isExecutable(d.Binary) {
			return d.Binary, nil
		}
		return "", &MissingError{Tool: d.Name, Binary: d.Binary}
	}
	if !validBinary(d.Binary) {
		return "", fmt.Errorf("locate %s: binary %q must be a plain file name", d.Name, d.Binary)
	}
	s, err := in.withDefaults()
	if err != nil {
		return "", err
	}
	if p := filepath.Join(s.binDir, d.Binary); isExecutable(p) {
		return p, nil
	}
	if p, err := exec.LookPath(d.Binary); err == nil {
		return p, nil
	}
	return "", &MissingError{Tool: d.Name, Binary: d.Binary, Command: InstallCommand(d)}
}

// InstallCommand returns the command a user runs to install d ("sortie
// install httpx"), or "" when d has no install recipe.
func InstallCommand(d *tool.Definition) string {
	if d.Install.Go == nil && len(d.Install.Apt) == 0 {
		return ""
	}
	return "sortie install " + d.Name
}

// RecipeString describes d's install recipe in one line:
//
//	go: github.com/projectdiscovery/httpx@v1.9.0 ./cmd/httpx
//	go: github.com/aquasecurity/trivy@v0.74.0 ./cmd/trivy (env GOEXPERIMENT=jsonv2)
//	apt: nmap
//	none
func RecipeString(d *tool.Definition) string {
	switch g := d.Install.Go; {
	case g != nil:
		s := fmt.Sprintf("go: %s@%s %s", g.Module, g.Version, g.Package)
		var extra []string
		if g.LDFlags != "" {
			extra = append(extra, fmt.Sprintf("ldflags %q", g.LDFlags))
		}
		if len(g.Env) > 0 {
			extra = append(extra, "env "+strings.Join(g.Env, " "))
		}
		if len(g.AptDeps) > 0 {
			extra = append(extra, "apt "+strings.Join(g.AptDeps, " "))
		}
		if len(extra) > 0 {
			s += " (" + strings.Join(extra, "; ") + ")"
		}
		return s
	case len(d.Install.Apt) > 0:
		return "apt: " + strings.Join(d.Install.Apt, " ")
	}
	return "none"
}
