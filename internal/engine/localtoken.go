package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// LocalTokenFile is the token a loopback "sortie server" started without
// authentication requires, and that clients of a loopback server given no
// credentials present: /tmp/sortie-UID/server.token. It does not depend on
// HOME or TMPDIR, so every process of the user finds it (a fleet's
// processes may run with their own HOME); /tmp is shared, so the directory
// must be the user's own, 0700.
func LocalTokenFile() string {
	return filepath.Join("/tmp", fmt.Sprintf("sortie-%d", os.Getuid()), "server.token")
}

// maxLocalToken bounds what is read from the token file.
const maxLocalToken = 256

// LocalToken reads the local server token; with create, it generates it
// when absent (32 random bytes, hex, mode 0600, created exclusively: never
// through a symlink nor over another file). It refuses a directory or a
// file that is not the user's own or that others may read. Without create,
// a missing file is fs.ErrNotExist.
func LocalToken(create bool) (string, error) { return localTokenAt(LocalTokenFile(), create) }

func localTokenAt(path string, create bool) (string, error) {
	dir := filepath.Dir(path)
	if create {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("local server token: %w", err)
		}
	}
	if err := ownPrivate(dir, true); err != nil {
		return "", err
	}
	tok, err := readLocalToken(path)
	if !create || !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".server.token-*") // O_EXCL, 0600
	if err != nil {
		return "", fmt.Errorf("local server token: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(hex.EncodeToString(b) + "\n")
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return "", fmt.Errorf("local server token: %w", err)
	}
	// A hard link never replaces a file nor follows a symlink at path: if
	// another process made the token first, it is the one used.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("local server token: %w", err)
	}
	return readLocalToken(path)
}

func readLocalToken(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return "", fmt.Errorf("local server token %s: a symlink", path)
		}
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if err := checkOwnPrivate(path, fi, false); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxLocalToken))
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("local server token %s: empty", path)
	}
	return tok, nil
}

// ownPrivate checks that path (not followed) is the user's own directory
// or regular file, without access for group or others.
func ownPrivate(path string, isDir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("local server token: %w", err)
	}
	return checkOwnPrivate(path, fi, isDir)
}

func checkOwnPrivate(path string, fi fs.FileInfo, isDir bool) error {
	switch {
	case isDir && !fi.IsDir(), !isDir && !fi.Mode().IsRegular():
		return fmt.Errorf("local server token: %s is not a plain %s (a symlink?)", path, map[bool]string{true: "directory", false: "file"}[isDir])
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("local server token: %s has mode %04o: others may reach it (chmod go= %s)", path, fi.Mode().Perm(), path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("local server token: %s belongs to uid %d, not to you (another user made it)", path, st.Uid)
	}
	return nil
}

// loopbackURLs reports whether every URL of a comma-separated server list
// names a loopback host.
func loopbackURLs(servers string) bool {
	for _, s := range strings.Split(servers, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" || u.User != nil || !isLoopback(u.Hostname()) {
			return false
		}
	}
	return true
}
