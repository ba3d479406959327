// Package signing holds the keys that prove who planned a chunk: a
// submitter's ed25519 private key (a file only its owner can read), the
// one-line text form of public keys, trust files listing the submitters a
// worker accepts, and signing and verifying messages. It imports only the
// standard library.
package signing

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// privatePrefix starts the key line of a private key file; what follows is
// the base64 of the 32-byte ed25519 seed.
const privatePrefix = "sortie-ed25519-seed:"

// maxKeyFile bounds what is read of a key or trust file.
const maxKeyFile = 1 << 20

// Key is a submitter's private signing key.
type Key struct {
	priv ed25519.PrivateKey
}

// Generate makes a new key from the system's random source.
func Generate() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("signing: generate key: %w", err)
	}
	return &Key{priv: priv}, nil
}

// NewKeyFromSeed makes the key of a 32-byte ed25519 seed (tests use fixed
// seeds).
func NewKeyFromSeed(seed []byte) (*Key, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing: a seed is %d bytes, not %d", ed25519.SeedSize, len(seed))
	}
	return &Key{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// Public is the key's public half.
func (k *Key) Public() PublicKey {
	var p PublicKey
	copy(p[:], k.priv.Public().(ed25519.PublicKey))
	return p
}

// Sign signs msg in the given domain (what the message is, so a signature
// made for one purpose is never valid for another).
func (k *Key) Sign(domain string, msg []byte) []byte {
	return ed25519.Sign(k.priv, domainMessage(domain, msg))
}

// SignText is Sign with the signature in its text form (standard base64).
func (k *Key) SignText(domain string, msg []byte) string {
	return base64.StdEncoding.EncodeToString(k.Sign(domain, msg))
}

func domainMessage(domain string, msg []byte) []byte {
	b := make([]byte, 0, len(domain)+1+len(msg))
	b = append(b, domain...)
	b = append(b, 0)
	return append(b, msg...)
}

// encode is the key's file form.
func (k *Key) encode() []byte {
	var b bytes.Buffer
	b.WriteString("# sortie signing key (ed25519): keep it secret, it signs the work that workers run.\n")
	fmt.Fprintf(&b, "# public key: %s\n", k.Public())
	b.WriteString(privatePrefix + base64.StdEncoding.EncodeToString(k.priv.Seed()) + "\n")
	return b.Bytes()
}

// ParseKey reads a private key file's content: comment lines (#), blank
// lines, and one key line.
func ParseKey(data []byte) (*Key, error) {
	var key *Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeyFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if key != nil {
			return nil, fmt.Errorf("line %d: a key file holds one key", n)
		}
		s, ok := strings.CutPrefix(line, privatePrefix)
		if !ok {
			return nil, fmt.Errorf("line %d: not a sortie signing key (want %s...)", n, privatePrefix)
		}
		seed, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("line %d: the key is not the base64 of a %d-byte seed", n, ed25519.SeedSize)
		}
		key, _ = NewKeyFromSeed(seed)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, errors.New("no key in the file")
	}
	return key, nil
}

// LoadKey reads a private key file. The file must be a regular file that
// neither group nor others can read or write: a key others can read is not
// secret any more.
func LoadKey(path string) (*Key, error) {
	data, err := readPrivate(path, 0o077)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, nil
}

// readPrivate reads a regular file whose permission bits have none of
// deny set, checking the file it opened (not the path, which could change
// in between).
func readPrivate(path string, deny fs.FileMode) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&deny != 0 {
		return nil, &ModeError{Path: path, Mode: perm, Deny: deny}
	}
	if fi.Size() > maxKeyFile {
		return nil, fmt.Errorf("%s: %d bytes is too large for a key file", path, fi.Size())
	}
	return io.ReadAll(io.LimitReader(f, maxKeyFile))
}

// ModeError is a key or trust file that other users can read or change.
type ModeError struct {
	Path string
	Mode fs.FileMode
	Deny fs.FileMode
}

func (e *ModeError) Error() string {
	what := "readable or writable by other users"
	if e.Deny&0o044 == 0 {
		what = "writable by other users"
	}
	return fmt.Sprintf("%s has mode %04o: %s (chmod %04o %s)", e.Path, e.Mode, what, e.Mode&^e.Deny, e.Path)
}

// SaveKey writes k to a new file at path, mode 0600. It never replaces a
// file and never writes through a symlink: the file is created exclusively
// (O_EXCL), which fails on any existing name, a dangling symlink included.
func SaveKey(path string, k *Key) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(k.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write signing key %s: %w", path, err)
	}
	return nil
}

// LoadOrCreateKey loads the key at path, or makes one there (and its
// directory, mode 0700) if there is none. Two processes that race to
// create it end up with the same key: the loser of the exclusive create
// loads the winner's. created says whether this call made it.
func LoadOrCreateKey(path string) (k *Key, created bool, err error) {
	k, err = LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("signing key directory: %w", err)
	}
	k, err = Generate()
	if err != nil {
		return nil, false, err
	}
	if err := SaveKey(path, k); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, err = LoadKey(path)
			return k, false, err
		}
		return nil, false, err
	}
	return k, true, nil
}
