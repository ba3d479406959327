package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/sortie-sec/sortie/internal/tool"
)

// ErrNotRoot is wrapped by the error Install returns when Debian packages
// are missing and the installer may not run apt-get; the message names the
// sudo command to run.
var ErrNotRoot = errors.New("not running as root")

// installApt installs a Debian-packaged tool; it is skipped when its binary
// is already on $PATH.
func (in *Installer) installApt(ctx context.Context, s settings, d *tool.Definition, force bool) (Result, error) {
	if path, err := exec.LookPath(d.Binary); err == nil && !force {
		return Result{Path: path, Skipped: true}, nil
	}
	if !in.Root {
		return Result{}, fmt.Errorf("install %s: %w: run %q", d.Name, ErrNotRoot, sudoCommand(d.Install.Apt))
	}
	fmt.Fprintf(s.log, "installing %s (apt-get install %s)\n", d.Name, strings.Join(d.Install.Apt, " "))
	if err := in.aptInstall(ctx, s, d.Install.Apt, force); err != nil {
		return Result{}, fmt.Errorf("install %s: %w", d.Name, err)
	}
	path, err := exec.LookPath(d.Binary)
	if err != nil {
		return Result{}, fmt.Errorf("install %s: apt-get installed %s but %s is not on PATH: %w",
			d.Name, strings.Join(d.Install.Apt, " "), d.Binary, err)
	}
	res := Result{Path: path, Version: in.reportVersion(ctx, s, path, d)}
	return res, nil
}

// ensureAptPackages installs the Debian packages a Go build needs (naabu's
// libpcap-dev), only those not installed yet.
func (in *Installer) ensureAptPackages(ctx context.Context, s settings, toolName string, pkgs []string) error {
	var missing []string
	for _, p := range pkgs {
		if !debInstalled(ctx, s, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !in.Root {
		return fmt.Errorf("install %s: the build needs %s: %w: run %q",
			toolName, strings.Join(missing, ", "), ErrNotRoot, sudoCommand(missing))
	}
	fmt.Fprintf(s.log, "installing build dependencies of %s (apt-get install %s)\n", toolName, strings.Join(missing, " "))
	if err := in.aptInstall(ctx, s, missing, false); err != nil {
		return fmt.Errorf("install %s: build dependencies: %w", toolName, err)
	}
	return nil
}

// debInstalled asks dpkg whether package p is installed.
func debInstalled(ctx context.Context, s settings, p string) bool {
	out, err := run(ctx, io.Discard, command{argv: []string{s.dpkgQuery, "-W", "-f=${Status}", p}})
	return err == nil && strings.Contains(string(out), "install ok installed")
}

// aptInstall runs apt-get install. When the package lists are missing or
// stale (a fresh container has none), apt-get cannot locate the packages:
// then "apt-get update" is run, once per Installer, and the install retried.
func (in *Installer) aptInstall(ctx context.Context, s settings, pkgs []string, reinstall bool) error {
	args := []string{s.aptGet, "install", "-y", "-q", "--no-install-recommends",
		// Wait for a concurrent apt/dpkg instead of failing at once.
		"-o", "DPkg::Lock::Timeout=120"}
	if reinstall {
		args = append(args, "--reinstall")
	}
	args = append(args, pkgs...)
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	_, err := run(ctx, s.log, command{argv: args, env: env})
	var ce *CommandError
	if err == nil || !errors.As(err, &ce) || !needsUpdate(ce.Tail) {
		return err
	}
	in.aptMu.Lock()
	updated := in.aptUpdated
	in.aptMu.Unlock()
	if updated {
		return err
	}
	fmt.Fprintln(s.log, "running apt-get update (package lists missing or stale)")
	if _, uerr := run(ctx, s.log, command{argv: []string{s.aptGet, "update", "-q", "-o", "DPkg::Lock::Timeout=120"}, env: env}); uerr != nil {
		return fmt.Errorf("%w (and apt-get update failed: %v)", err, uerr)
	}
	in.aptMu.Lock()
	in.aptUpdated = true
	in.aptMu.Unlock()
	_, err = run(ctx, s.log, command{argv: args, env: env})
	return err
}

// needsUpdate reports whether apt-get's output says its package lists are
// missing or out of date.
func needsUpdate(out string) bool {
	return strings.Contains(out, "Unable to locate package") ||
		strings.Contains(out, "has no installation candidate") ||
		strings.Contains(out, "Failed to fetch")
}

// sudoCommand is the command a non-root user runs to install pkgs.
func sudoCommand(pkgs []string) string {
	return "sudo apt-get install -y " + strings.Join(pkgs, " ")
}
