//go:build !unix

package install

import "os/exec"

// setProcessGroup is a no-op where process groups do not exist: the
// context's cancellation kills the command itself.
func setProcessGroup(*exec.Cmd) {}
