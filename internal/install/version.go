package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sortie-sec/sortie/internal/tool"
)

// versionTimeout bounds a version command.
const versionTimeout = 10 * time.Second

// maxVersionOutput is how much of a version command's output is read.
const maxVersionOutput = 64 << 10

// ErrNoVersionCommand is returned by Version for a tool whose definition has
// no version command.
var ErrNoVersionCommand = errors.New("no version command")

// ansiEscape matches terminal colour and cursor sequences, which some tools
// print even when their output is not a terminal.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// Version runs the version command of d with the binary at path and returns
// the first group of d.Version.Regex (the whole match if the regex has no
// group) in its combined stdout and stderr, colour codes removed. The
// command runs for at most 10 seconds, with stdin on /dev/null and HOME (and
// the XDG directories) in a temporary directory that is removed afterwards,
// so that tools which write configuration on start do not touch the user's
// home. A non-zero exit is not an error if the output has the version (some
// tools exit 1 or 2 after printing it).
func Version(ctx context.Context, path string, d *tool.Definition) (string, error) {
	if len(d.Version.Args) == 0 {
		return "", fmt.Errorf("version of %s: %w", d.Name, ErrNoVersionCommand)
	}
	if d.Version.Regex == "" {
		return "", fmt.Errorf("version of %s: the version command has no regex", d.Name)
	}
	re, err := regexp.Compile(d.Version.Regex)
	if err != nil {
		return "", fmt.Errorf("version of %s: bad version regex: %w", d.Name, err)
	}
	home, err := os.MkdirTemp("", "sortie-version-")
	if err != nil {
		return "", fmt.Errorf("version of %s: %w", d.Name, err)
	}
	defer os.RemoveAll(home)

	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	out := &headBuffer{max: maxVersionOutput}
	cmd := exec.CommandContext(ctx, path, d.Version.Args...)
	cmd.Dir = home
	cmd.Env = append(os.Environ(),
		"PATH="+versionPath(d),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"NO_COLOR=1",
	)
	cmd.Stdout = out // Stdin stays nil: /dev/null.
	cmd.Stderr = out
	setProcessGroup(cmd)
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()

	text := ansiEscape.ReplaceAllString(out.String(), "")
	if m := re.FindStringSubmatch(text); m != nil {
		if len(m) > 1 {
			return m[1], nil
		}
		return m[0], nil
	}
	argv := path + " " + strings.Join(d.Version.Args, " ")
	if ctx.Err() != nil {
		return "", fmt.Errorf("version of %s: %s: %w", d.Name, argv, context.Cause(ctx))
	}
	if runErr != nil {
		return "", fmt.Errorf("version of %s: %s: %w: %s", d.Name, argv, runErr, lastLines(text, 3))
	}
	return "", fmt.Errorf("version of %s: %s: output does not match %q: %s", d.Name, argv, d.Version.Regex, lastLines(text, 3))
}

// systemPath is put first on the PATH of Debian-packaged tools, as the
// runs of those tools do: their scripts run "python3" or "perl" from PATH
// and need Debian's, with its packages (dirsearch's /usr/bin/dirsearch runs
// python3, and pyenv's python3 has no chardet).
const systemPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// versionPath is the PATH the version command of d runs with.
func versionPath(d *tool.Definition) string {
	path := os.Getenv("PATH")
	if len(d.Install.Apt) > 0 {
		return systemPath + ":" + path
	}
	return path
}

// headBuffer keeps the first max bytes written to it and drops the rest
// (without failing the writer, so the command is not killed by SIGPIPE).
type headBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.buf)
}
