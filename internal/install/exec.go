package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// tailSize is how much of a command's output is kept for error reports.
const tailSize = 16 << 10

// CommandError is returned when a command run by the installer fails. It
// carries the end of the command's output (stdout and stderr interleaved),
// which has also been written to Installer.Log.
type CommandError struct {
	Argv []string
	Dir  string
	Err  error
	// Tail is the last lines of the command's output.
	Tail string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if last := lastLines(e.Tail, 3); last != "" {
		msg += ": " + last
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// lastLines returns the last n non-empty lines of s joined by " | ".
func lastLines(s string, n int) string {
	var out []string
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return strings.Join(out, " | ")
}

// command is one process to run.
type command struct {
	argv []string
	dir  string
	// env is the complete environment; nil inherits the installer's.
	env []string
}

// run runs c to completion. Its stdout is returned; stdout and stderr
// together are kept in a bounded tail that is written to log, and returned
// in a *CommandError, only when the command fails. Cancelling ctx stops the
// command's whole process group (go build runs compilers as children).
func run(ctx context.Context, log io.Writer, c command) ([]byte, error) {
	var stdout bytes.Buffer
	tail := &tailBuffer{max: tailSize}
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	cmd.Stdout = io.MultiWriter(&stdout, tail)
	cmd.Stderr = tail
	setProcessGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	ce := &CommandError{Argv: c.argv, Dir: c.dir, Err: err, Tail: tail.String()}
	if ce.Tail != "" && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(log, "--- output of %s (in %s) ---\n%s", strings.Join(c.argv, " "), c.dir, ce.Tail)
		if !strings.HasSuffix(ce.Tail, "\n") {
			fmt.Fprintln(log)
		}
		fmt.Fprintln(log, "---")
	}
	return stdout.Bytes(), ce
}

// tailBuffer keeps the last max bytes written to it, cut at a line start
// when possible.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
		t.cut = true
	}
	if t.cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return string(b)
}
