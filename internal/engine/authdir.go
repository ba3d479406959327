package engine

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nats-io/nkeys"
)

// RoutePasswordFile is the route password's file in an auth directory.
const RoutePasswordFile = "route.password"

// RolesConfigFile is the stock NATS configuration written next to the
// keys: the same users and permissions for a NATS server run without sortie.
const RolesConfigFile = "nats-roles.conf"

// AuthDir is the directory of "sortie server --auth-dir": one nkey seed
// per role (operator.nk, submitter.nk, worker.nk) and the route password,
// generated on first use, each 0600 in a 0700 directory.
type AuthDir struct {
	// Dir is the directory.
	Dir string
	// Keys are the roles' public nkeys.
	Keys map[Role]string
	// RoutePassword authenticates the routes of a cluster.
	RoutePassword string
	// Generated lists the files this call created.
	Generated []string
}

// SeedFile is the path of a role's seed, the --nkey of its clients.
func (a *AuthDir) SeedFile(r Role) string { return filepath.Join(a.Dir, string(r)+".nk") }

// LoadAuthDir reads the auth directory, creating it and any missing key or
// password first. It follows no symlink, and refuses a directory or a file
// that others may read or write.
func LoadAuthDir(dir string) (*AuthDir, error) {
	if dir == "" {
		return nil, errors.New("auth directory: no path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("auth directory: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("auth directory %s is a symlink; give its target", dir)
	case !fi.IsDir():
		return nil, fmt.Errorf("auth directory %s is not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("auth directory %s is open to other users (mode %v); chmod 700 it", dir, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("auth directory %s belongs to another user (uid %d)", dir, st.Uid)
	}
	a := &AuthDir{Dir: dir, Keys: map[Role]string{}}
	for _, r := range Roles {
		seed, created, err := readOrCreate(a.SeedFile(r), func() ([]byte, error) {
			kp, err := nkeys.CreateUser()
			if err != nil {
				return nil, err
			}
			s, err := kp.Seed()
			return append(s, '\n'), err
		})
		if err != nil {
			return nil, err
		}
		if created {
			a.Generated = append(a.Generated, a.SeedFile(r))
		}
		kp, err := nkeys.ParseDecoratedNKey(seed)
		if err != nil {
			return nil, fmt.Errorf("%s: not an nkey seed: %w", a.SeedFile(r), err)
		}
		pub, err := kp.PublicKey()
		if err != nil || !nkeys.IsValidPublicUserKey(pub) {
			return nil, fmt.Errorf("%s: not a user nkey seed", a.SeedFile(r))
		}
		a.Keys[r] = pub
	}
	pw, created, err := readOrCreate(filepath.Join(dir, RoutePasswordFile), func() ([]byte, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return []byte(base64.RawURLEncoding.EncodeToString(b) + "\n"), nil
	})
	if err != nil {
		return nil, err
	}
	if created {
		a.Generated = append(a.Generated, filepath.Join(dir, RoutePasswordFile))
	}
	a.RoutePassword = strings.TrimSpace(string(pw))
	if len(a.RoutePassword) < MinRoutePassword {
		return nil, fmt.Errorf("%s: route password shorter than %d characters", filepath.Join(dir, RoutePasswordFile), MinRoutePassword)
	}
	conf := filepath.Join(dir, RolesConfigFile)
	if _, created, err := readOrCreate(conf, func() ([]byte, error) { return []byte(RolesConfig(a.Keys)), nil }); err != nil {
		return nil, err
	} else if created {
		a.Generated = append(a.Generated, conf)
	}
	return a, nil
}

// readOrCreate reads path without following a symlink, or creates it
// exclusively (mode 0600) with gen's content when it does not exist. A
// file that others may read is refused: it holds a secret.
func readOrCreate(path string, gen func() ([]byte, error)) (data []byte, created bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		b, err := gen()
		if err != nil {
			return nil, false, fmt.Errorf("%s: generate: %w", path, err)
		}
		if err := createExclusive(path, b); err != nil {
			return nil, false, err
		}
		return b, true, nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, false, fmt.Errorf("%s is a symlink; refusing to follow it", path)
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("%s is open to other users (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b := make([]byte, 0, fi.Size())
	buf := make([]byte, 4096)
	for len(b) < 64<<10 {
		n, err := f.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return b, false, nil
}

func createExclusive(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// seedPublicKey is the public key of the nkey seed in path.
func seedPublicKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}
