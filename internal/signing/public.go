package signing

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// PublicPrefix starts the text form of a public key.
const PublicPrefix = "sortie-ed25519:"

// Errors of Verify that callers branch on.
var (
	// ErrUntrusted: the message was signed by a key not in the trust set.
	ErrUntrusted = errors.New("signed by a key that is not trusted")
	// ErrBadSignature: the signature does not match the message.
	ErrBadSignature = errors.New("bad signature")
)

// PublicKey is an ed25519 public key. It is comparable.
type PublicKey [ed25519.PublicKeySize]byte

// String is the key's one-line text form, "sortie-ed25519:<base64>".
func (p PublicKey) String() string { return PublicPrefix + base64.StdEncoding.EncodeToString(p[:]) }

// ParsePublicKey reads a public key's text form.
func ParsePublicKey(s string) (PublicKey, error) {
	var p PublicKey
	b64, ok := strings.CutPrefix(s, PublicPrefix)
	if !ok {
		return p, fmt.Errorf("public key %q: want %s<base64>", clip(s), PublicPrefix)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(b) != len(p) {
		return p, fmt.Errorf("public key %q: not the base64 of %d bytes", clip(s), len(p))
	}
	copy(p[:], b)
	return p, nil
}

// clip shortens what an error message quotes.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Trust is the set of public keys whose signatures a worker accepts.
type Trust struct {
	keys map[PublicKey]string // where each key came from
}

// NewTrust trusts exactly keys.
func NewTrust(keys ...PublicKey) *Trust {
	t := &Trust{keys: map[PublicKey]string{}}
	for _, k := range keys {
		t.keys[k] = "given"
	}
	return t
}

// Len is the number of trusted keys.
func (t *Trust) Len() int {
	if t == nil {
		return 0
	}
	return len(t.keys)
}

// Keys are the trusted keys in their text form, sorted.
func (t *Trust) Keys() []string {
	var out []string
	if t != nil {
		for k := range t.keys {
			out = append(out, k.String())
		}
	}
	sort.Strings(out)
	return out
}

// Add trusts k; from says where it came from (a file and line).
func (t *Trust) Add(k PublicKey, from string) {
	if _, ok := t.keys[k]; !ok {
		t.keys[k] = from
	}
}

// Verify checks that sig (standard base64) is key's signature of msg in
// domain and that key is trusted. The errors wrap ErrUntrusted or
// ErrBadSignature.
func (t *Trust) Verify(key PublicKey, domain string, msg []byte, sig string) error {
	if _, ok := t.keys[key]; t == nil || !ok {
		return fmt.Errorf("%w: %s", ErrUntrusted, key)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || len(b) != ed25519.SignatureSize {
		return fmt.Errorf("%w: not the base64 of a %d-byte signature", ErrBadSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(ed25519.PublicKey(key[:]), domainMessage(domain, msg), b) {
		return fmt.Errorf("%w: the message is not what %s signed", ErrBadSignature, key)
	}
	return nil
}

// ParseTrust adds the keys of a trust file's content to t: one public key
// per line, optionally followed by a name ("sortie-ed25519:... alice"),
// blank lines and # comments. name is the file's name in errors. Every bad
// line is reported.
func (t *Trust) ParseTrust(name string, data []byte) error {
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeyFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		field, _, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
		k, err := ParsePublicKey(field)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
			continue
		}
		t.Add(k, fmt.Sprintf("%s:%d", name, n))
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return errors.Join(errs...)
}

// LoadTrust reads trust files. A trust file decides who may run work on
// this machine, so it must be a regular file that neither group nor others
// can write; a file that names no key is an error (an empty trust file is
// more likely a mistake than a wish to run nothing).
func LoadTrust(paths ...string) (*Trust, error) {
	t := NewTrust()
	var errs []error
	for _, p := range paths {
		data, err := readPrivate(p, 0o022)
		if err != nil {
			errs = append(errs, fmt.Errorf("trust file: %w", err))
			continue
		}
		before := t.Len()
		if err := t.ParseTrust(p, data); err != nil {
			errs = append(errs, err)
			continue
		}
		if t.Len() == before {
			errs = append(errs, fmt.Errorf("trust file %s names no key", p))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}
