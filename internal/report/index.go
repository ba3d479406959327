package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/sortie-sec/sortie/internal/safefile"
)

// IndexFile is the file, in the data directory, that lists the run
// directories made outside the runs directory (--out DIR), one quoted
// absolute path a line, so that "sortie runs" lists them too. Entries whose directory is gone are skipped
// when read, and dropped when runs are removed.
const IndexFile = "runs.index"

// indexPath is the index's path in the data directory.
func indexPath() (string, error) {
	d, err := DataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, IndexFile), nil
}

// AddToIndex records the run directory dir in the index. The index is
// created like the run's own files: exclusively, never through a link, mode
// 0600; an entry is one append of one line.
func AddToIndex(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	p, err := indexPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	unlock, err := lockIndex(p)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := safefile.OpenAppend(p, 0o600)
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	_, err = f.WriteString(strconv.Quote(abs) + "\n")
	return errors.Join(err, f.Close())
}

// IndexedDirs returns the directories in the index, each once, in the order
// they were added, whether or not they still exist. A missing index is
// empty; a line that cannot be read is skipped.
func IndexedDirs() ([]string, error) {
	p, err := indexPath()
	if err != nil {
		return nil, err
	}
	f, err := safefile.OpenRead(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	defer f.Close()
	dirs, err := parseIndex(f)
	if err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	return dirs, nil
}

// parseIndex reads the index's lines: each a quoted absolute path, kept
// once; any other line (torn, edited by hand) is skipped.
func parseIndex(r io.Reader) ([]string, error) {
	var (
		dirs []string
		seen = map[string]bool{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		d, err := strconv.Unquote(string(bytes.TrimSpace(sc.Bytes())))
		if err != nil || !filepath.IsAbs(d) || filepath.Clean(d) != d || seen[d] {
			continue
		}
		seen[d] = true
		dirs = append(dirs, d)
	}
	return dirs, sc.Err()
}

// RemoveFromIndex drops dirs, and every entry whose directory is gone, from
// the index. The index is replaced atomically.
func RemoveFromIndex(dirs ...string) error {
	p, err := indexPath()
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := lockIndex(p)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := IndexedDirs()
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			drop[abs] = true
		}
	}
	var b bytes.Buffer
	for _, d := range old {
		if drop[d] {
			continue
		}
		if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		b.WriteString(strconv.Quote(d) + "\n")
	}
	if err := safefile.WriteAtomic(p, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	return nil
}

// lockIndex takes the index's lock file: an entry appended while the index
// is being rewritten would be lost.
func lockIndex(index string) (unlock func(), err error) {
	f, err := safefile.OpenAppend(index+".lock", 0o600)
	if err != nil {
		return nil, fmt.Errorf("run index: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("run index: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// RunDirs returns the directory of every local run: those under the runs
// directory and those in the index that still hold a run.json. A directory
// is listed once.
func RunDirs() ([]string, error) {
	root, err := RunsDir()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var (
		dirs []string
		seen = map[string]bool{}
	)
	for _, e := range entries {
		if e.IsDir() {
			p := filepath.Join(root, e.Name())
			seen[p] = true
			dirs = append(dirs, p)
		}
	}
	indexed, err := IndexedDirs()
	if err != nil {
		return dirs, err
	}
	for _, d := range indexed {
		if seen[d] {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, MetaFile)); err != nil {
			continue // gone, or not a run any more
		}
		seen[d] = true
		dirs = append(dirs, d)
	}
	return dirs, nil
}
