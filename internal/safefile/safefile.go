// Package safefile creates the files and directories of a run without
// following symbolic links it did not create: a directory the user points
// sortie at (--out) may hold links planted by someone else, and writing
// through them would overwrite or append to the files they point to.
//
// Files are created exclusively (O_CREAT|O_EXCL, which never follows a
// link), opened for appending only when they are regular files of the
// current user with a single link (O_NOFOLLOW), and replaced atomically
// through a temporary file with a random name, created exclusively and
// renamed in place. Directories are created with Mkdir, whose parent must
// exist, and an existing directory is checked with Lstat.
//
// It imports only the standard library.
package safefile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Sentinel errors, wrapped in *Error.
var (
	// ErrNotEmpty: an existing directory holds files.
	ErrNotEmpty = errors.New("is not empty")
	// ErrSymlink: the path is a symbolic link.
	ErrSymlink = errors.New("is a symbolic link")
	// ErrNotOwned: the path belongs to another user.
	ErrNotOwned = errors.New("belongs to another user")
	// ErrNotDir: the path exists and is not a directory.
	ErrNotDir = errors.New("is not a directory")
	// ErrNotRegular: the path is not a regular file, or is a hard link
	// (more than one name).
	ErrNotRegular = errors.New("is not a regular file")
)

// Error says why a path was refused.
type Error struct {
	Path string
	Err  error // one of the sentinel errors
}

func (e *Error) Error() string { return e.Path + " " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// flags opens files without following a last-component link.
const nofollow = syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// MkdirNew creates the directory path with mode perm (0700 for run
// directories). Its parent must exist; path must not.
func MkdirNew(path string, perm fs.FileMode) error {
	return os.Mkdir(path, perm)
}

// CheckDir reports whether path is a directory of the current user, and
// not a symbolic link.
func CheckDir(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		return &Error{path, ErrSymlink}
	case !st.IsDir():
		return &Error{path, ErrNotDir}
	case !owned(st):
		return &Error{path, ErrNotOwned}
	}
	return nil
}

// EnsureDir creates the directory path (its parent must exist), or accepts
// it when it is already a directory of the current user and not a link.
func EnsureDir(path string, perm fs.FileMode) error {
	err := os.Mkdir(path, perm)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	return CheckDir(path)
}

// NewOrEmptyDir makes path ready to be written to: it creates it (and its
// missing parents, 0755) when it does not exist, or accepts it when it is an
// empty directory of the current user and not a symbolic link. It reports
// whether it created path.
func NewOrEmptyDir(path string, perm fs.FileMode) (created bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return false, err
		}
		err := os.Mkdir(path, perm)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrExist) { // else made meanwhile: check it
			return false, err
		}
	}
	if err := CheckDir(path); err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err != nil {
			return false, err
		}
		return false, &Error{path, ErrNotEmpty}
	}
	return false, nil
}

// Create creates the file path exclusively (it must not exist, not even as
// a link), for writing, with mode perm.
func Create(path string, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|nofollow, perm)
}

// OpenAppend opens path for reading and appending: the file is created
// exclusively when it does not exist; an existing one must be a regular
// file of the current user with one link. It is never truncated here.
func OpenAppend(path string, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|nofollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL|nofollow, perm)
		if err == nil {
			return f, nil
		}
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &Error{path, ErrSymlink}
		}
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		err = checkRegular(path, st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// OpenRead opens path for reading without following a last-component link.
func OpenRead(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|nofollow, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &Error{path, ErrSymlink}
	}
	return f, err
}

// WriteAtomic replaces path with data: data goes to a temporary file with a
// random name in path's directory, created exclusively with mode perm and
// synced, which is then renamed over path. A link at path is replaced, not
// followed. A reader sees the old file or the new one, never half of one.
func WriteAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

func checkRegular(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return &Error{path, ErrNotRegular}
	}
	if !owned(st) {
		return &Error{path, ErrNotOwned}
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok && s.Nlink != 1 {
		return &Error{path, ErrNotRegular}
	}
	return nil
}

func owned(st fs.FileInfo) bool {
	s, ok := st.Sys().(*syscall.Stat_t)
	return !ok || int(s.Uid) == os.Geteuid()
}
