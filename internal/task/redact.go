package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/redact"
)

// redactFinding returns f with secrets masked in every field, its extra
// data and output tail included: f itself when it holds none, else a copy.
// A finding that cannot be copied is replaced by a warning saying so,
// never emitted with its secret.
func redactFinding(f finding.Finding, red *redact.Redactor) finding.Finding {
	if red.Empty() {
		return f
	}
	b, err := json.Marshal(f)
	if err != nil || !red.Contains(string(b)) {
		return f
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil {
		if b, err = json.Marshal(red.JSON(v)); err == nil {
			c := finding.New(f.Kind())
			if c != nil && json.Unmarshal(b, c) == nil {
				return c
			}
		}
	}
	return &finding.Warning{Message: fmt.Sprintf("a %s finding was dropped: it held a secret that could not be masked", f.Kind())}
}

// redactError masks secrets in an error's message; errors.Is and errors.As
// still see the original.
func redactError(err error, red *redact.Redactor) error {
	if err == nil || red.Empty() {
		return err
	}
	msg := red.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrubDir masks secrets in the files the tool left in its task directory,
// which is also its HOME: ffuf keeps every run's options (headers
// included) under .config/ffuf/history, other tools keep config and resume
// files. A file holding a secret is rewritten with the secret masked (a
// new file renamed over it: a hard link to a file elsewhere is not
// changed); one that cannot be rewritten is removed. Symbolic links are
// neither followed nor changed, and only regular files are opened.
func scrubDir(dir string, red *redact.Redactor) error {
	if dir == "" || red.Empty() {
		return nil
	}
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // directories are walked; links, devices, pipes skipped
		}
		if err := scrubFile(path, red); err != nil {
			if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("%s: %w", path, errors.Join(err, rerr)))
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// scrubFile rewrites path with secrets masked when it holds any.
func scrubFile(path string, red *redact.Redactor) error {
	// O_NOFOLLOW: the entry may have become a link since it was listed;
	// O_NONBLOCK: or a pipe, which must not block the task.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sortie-scrub-*")
	if err != nil {
		return err
	}
	changed, err := red.Copy(tmp, f)
	if err == nil && changed {
		err = tmp.Chmod(st.Mode().Perm() & 0o700)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || !changed {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
