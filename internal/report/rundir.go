package report

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
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

// Create makes the directory for run id under root, with its raw and work
// subdirectories. It fails early, with the path in the message, when root is
// not writable.
func Create(root, id string) (*Dir, error) {
	p := filepath.Join(root, id)
	// Raw output and the tool's own files can hold secrets in clear (a
	// gitleaks report): only the owner may read them.
	for _, d := range []string{p, filepath.Join(p, RawDir), filepath.Join(p, WorkDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create run directory: %w", err)
		}
	}
	probe := filepath.Join(p, ".write-test")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return nil, fmt.Errorf("run directory %s is not writable: %w", p, err)
	}
	os.Remove(probe)
	return &Dir{Path: p}, nil
}

// File returns the path of a file in the run directory.
func (d *Dir) File(name ...string) string {
	return filepath.Join(append([]string{d.Path}, name...)...)
}

// WriteMeta writes run.json atomically (temp file + rename), so a reader
// never sees half a file.
func (d *Dir) WriteMeta(m *Meta) error {
	m.Schema = finding.SchemaVersion
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.File(MetaFile + ".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write run metadata: %w", err)
	}
	return os.Rename(tmp, d.File(MetaFile))
}

// ReadMeta reads a run's metadata.
func ReadMeta(dir string) (*Meta, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetaFile))
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
