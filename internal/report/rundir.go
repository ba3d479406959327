package report

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/safefile"
)

// Run directory layout.
const (
	MetaFile     = "run.json"
	FindingsFile = "findings.jsonl"
	CommandFile  = "command.txt"
	RawDir       = "raw"
	WorkDir      = "work"
)

// Meta is the run metadata written to run.json.
type Meta struct {
	ID          string               `json:"id"`
	Kind        string               `json:"kind"` // task or import
	Tool        string               `json:"tool"`
	ToolVersion string               `json:"tool_version,omitempty"`
	Targets     []string             `json:"targets"`
	Options     map[string][]string  `json:"options,omitempty"`
	Commands    []string             `json:"commands,omitempty"`
	State       string               `json:"state"`
	Reason      string               `json:"reason,omitempty"`
	ExitCode    int                  `json:"exit_code"`
	Started     time.Time            `json:"started"`
	Finished    *time.Time           `json:"finished,omitempty"`
	DurationMS  int64                `json:"duration_ms,omitempty"`
	Counts      map[finding.Type]int `json:"counts"`
	Garbage     int                  `json:"unparsed_lines,omitempty"`
	Schema      string               `json:"schema_version"`
	Sortie      string               `json:"sortie_version"`
}

// Dir is one run's directory.
type Dir struct {
	Path string
}

// NewRunID mints a run id that sorts by start time: 20261128-163200-a1b2c3.
func NewRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Create makes the directory for run id under root (created if missing),
// with its raw and work subdirectories. The run's directory must be new.
// It fails early, with the path in the message, when root is not writable.
func Create(root, id string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	p := filepath.Join(root, id)
	if err := safefile.MkdirNew(p, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	return makeSubdirs(p)
}

// ErrOutDir means a directory given for a run (--out) is neither new nor an
// empty directory of the current user; it wraps a *safefile.Error saying
// which.
var ErrOutDir = errors.New("not a new directory nor an empty one of yours")

// CreateOut makes path the directory of a run: path must not exist (it is
// created, with any missing parent) or be an empty directory owned by the
// current user, not a symbolic link. Anything else would mix the run's
// files with others, or let links planted there redirect its writes.
func CreateOut(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := safefile.NewOrEmptyDir(abs, 0o700); err != nil {
		var se *safefile.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %w", ErrOutDir, err)
		}
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	return makeSubdirs(abs)
}

// makeSubdirs creates raw/ and work/ in the new run directory p. Raw output
// and the tool's own files can hold secrets in clear (a gitleaks report):
// only the owner may read them.
func makeSubdirs(p string) (*Dir, error) {
	for _, d := range []string{RawDir, WorkDir} {
		if err := safefile.MkdirNew(filepath.Join(p, d), 0o700); err != nil {
			return nil, fmt.Errorf("run directory %s is not writable: %w", p, err)
		}
	}
	return &Dir{Path: p}, nil
}

// Open checks that path is an existing run directory of the current user
// (not a symbolic link) and returns it: for runs resumed or attached to.
func Open(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := safefile.CheckDir(abs); err != nil {
		return nil, err
	}
	return &Dir{Path: abs}, nil
}

// Subdir makes sure the directory name exists in the run directory and is
// the run's own (a directory of the current user, not a link), creating it
// when missing: the engine's store, for one.
func (d *Dir) Subdir(name string) (string, error) {
	p := d.File(name)
	if err := safefile.EnsureDir(p, 0o700); err != nil {
		return "", fmt.Errorf("run directory: %w", err)
	}
	return p, nil
}

// AppendLine appends line and a newline to the run's file name (command.txt),
// creating it exclusively when missing; an existing file must be the run's
// own regular file, never a link.
func (d *Dir) AppendLine(name, line string) error {
	f, err := safefile.OpenAppend(d.File(name), 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// File returns the path of a file in the run directory.
func (d *Dir) File(name ...string) string {
	return filepath.Join(append([]string{d.Path}, name...)...)
}

// WriteMeta writes run.json atomically (a temporary file with a random
// name, created exclusively, renamed in place), so a reader never sees half
// a file and a link named run.json is replaced, never followed.
func (d *Dir) WriteMeta(m *Meta) error {
	m.Schema = finding.SchemaVersion
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := safefile.WriteAtomic(d.File(MetaFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write run metadata: %w", err)
	}
	return nil
}

// maxMeta bounds the run.json read: a run's metadata is a few kilobytes,
// its commands included.
const maxMeta = 64 << 20

// ReadMeta reads a run's metadata; a run.json that is a link is refused.
func ReadMeta(dir string) (*Meta, error) {
	f, err := safefile.OpenRead(filepath.Join(dir, MetaFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMeta))
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, MetaFile), err)
	}
	return &m, nil
}

// ErrNoDataDir means neither XDG_DATA_HOME nor HOME is set.
var ErrNoDataDir = errors.New("cannot find a data directory: set XDG_DATA_HOME or HOME, or pass --out")

// DataDir is sortie's data directory: $XDG_DATA_HOME/sortie, by default
// ~/.local/share/sortie.
func DataDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "sortie"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", ErrNoDataDir
	}
	return filepath.Join(home, ".local", "share", "sortie"), nil
}

// RunsDir is where run directories go by default.
func RunsDir() (string, error) {
	d, err := DataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "runs"), nil
}
