//go:build unix

package install

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in its own process group and makes the
// context's cancellation signal the whole group (SIGTERM), so that the
// compilers go build runs as children stop too. Cmd.WaitDelay bounds the
// wait after the signal.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}
