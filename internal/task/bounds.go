package task

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"syscall"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/redact"
	"github.com/sortie-sec/sortie/internal/safefile"
)

const (
	// DefaultOutputLimit is Spec.OutputLimit's default.
	DefaultOutputLimit = 256 << 20
	// DefaultRawLimit is Spec.RawLimit's default.
	DefaultRawLimit = 100 << 20
)

// errOutputLimit is the cause given to the runner's context when a
// document on stdout reaches the output limit: the tool is stopped.
var errOutputLimit = errors.New("output limit reached")

// outputLimit is the bound on a document sortie holds in memory: the
// OutputLimit, or the memory limit when that is smaller (sortie's own buffers
// count against the limit the user set).
func (s Spec) outputLimit() int64 {
	limit := s.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	if s.MemoryLimit > 0 {
		limit = min(limit, s.MemoryLimit)
	}
	return limit
}

// docBuffer accumulates a document printed on stdout, line by line, up to a
// limit. The buffer is an anonymous mapping of the limit's size, reserved
// but not touched: only the bytes written become resident, and there is
// no growth by copying (which briefly holds the old and the new buffer,
// nearly twice the limit). Where the mapping fails it falls back to a
// slice grown by doubling, its capacity capped at the limit. release frees
// it: the parser must not keep a reference to the bytes (findings hold
// strings, which are copies).
type docBuffer struct {
	limit  int64
	buf    []byte
	mapped bool
	cut    bool
}

// add appends line and a newline. It reports false, and keeps nothing more,
// once the document would exceed the limit: the document is cut at the end
// of the last line that fitted.
func (d *docBuffer) add(line []byte) bool {
	if d.cut {
		return false
	}
	need := int64(len(d.buf)) + int64(len(line)) + 1
	if need > d.limit {
		d.cut = true
		return false
	}
	if d.buf == nil && d.limit > 64<<10 {
		b, err := syscall.Mmap(-1, 0, int(d.limit), syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
		if err == nil {
			d.buf, d.mapped = b[:0], true
		}
	}
	if need > int64(cap(d.buf)) {
		c := min(max(2*int64(cap(d.buf)), need, 64<<10), d.limit)
		nb := make([]byte, len(d.buf), c)
		copy(nb, d.buf)
		d.buf = nb
	}
	d.buf = append(d.buf, line...)
	d.buf = append(d.buf, '\n')
	return true
}

// release frees the buffer; the bytes must no longer be used.
func (d *docBuffer) release() {
	if d.mapped {
		_ = syscall.Munmap(d.buf[:cap(d.buf)])
	}
	d.buf, d.mapped = nil, false
}

// readDocument reads a report file for a whole-document parser, at most
// limit bytes of it. It returns the file's size when it was cut, or -1.
func readDocument(f *os.File, limit int64) (data []byte, size int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, -1, err
	}
	size = -1
	n := fi.Size()
	if n > limit {
		size, n = n, limit
	}
	data = make([]byte, n)
	m, err := io.ReadFull(f, data)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil // the file shrank: parse what is there
	}
	return data[:m], size, err
}

// rawBudget caps the bytes an attempt writes to its raw directory, summed
// over stdout.txt, stderr.txt and the copies of report files. The findings
// are parsed from the whole output whatever the cap; only the copy is cut.
type rawBudget struct {
	left int64 // bytes still allowed
	cut  bool  // something was not copied
}

// newRawBudget returns the budget of Spec.RawLimit; without a raw
// directory nothing is written, so nothing is ever cut.
func newRawBudget(dir string, limit int64) *rawBudget {
	switch {
	case dir == "":
		limit = math.MaxInt64
	case limit == 0:
		limit = DefaultRawLimit
	}
	return &rawBudget{left: max(limit, 0)}
}

// lines wraps w, a raw file written one whole line at a time: a line that
// does not fit whole is not written, nor is anything after it.
func (b *rawBudget) lines(w io.Writer) io.Writer { return &rawWriter{b: b, w: w} }

type rawWriter struct {
	b *rawBudget
	w io.Writer
}

// Write writes p whole, or nothing once the budget cannot hold it. It
// never fails: a raw copy must not stop a task.
func (r *rawWriter) Write(p []byte) (int, error) {
	if r.b.cut || int64(len(p)) > r.b.left {
		r.b.cut = true
		return len(p), nil
	}
	r.b.left -= int64(len(p))
	_, _ = r.w.Write(p)
	return len(p), nil
}

// copyFile copies src to dst, secrets masked, within the budget; a copy
// that does not fit is cut at the budget. Errors are ignored: the raw copy
// is best effort.
func (b *rawBudget) copyFile(src, dst string, red *redact.Redactor) {
	if b.left <= 0 {
		b.cut = true
		return
	}
	in, err := safefile.OpenRead(src)
	if err != nil {
		return
	}
	defer in.Close()
	out, err := safefile.Create(dst, 0o600) // never through a link
	if err != nil {
		return
	}
	defer out.Close()
	_, _ = red.Copy(&cappedWriter{b: b, w: out}, in)
}

// cappedWriter writes what the budget still holds and drops the rest.
type cappedWriter struct {
	b *rawBudget
	w io.Writer
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	n := int64(len(p))
	if n > c.b.left {
		n, c.b.cut = c.b.left, true
	}
	if n > 0 {
		_, _ = c.w.Write(p[:n])
		c.b.left -= n
	}
	return len(p), nil
}

// warning is the message of a cut raw copy, or "".
func (b *rawBudget) warning(limit int64) string {
	if !b.cut {
		return ""
	}
	if limit < 0 {
		return ""
	}
	if limit == 0 {
		limit = DefaultRawLimit
	}
	return fmt.Sprintf("the raw output copy was cut at %d bytes (the raw limit, --raw-limit); the findings were parsed from the whole output", limit)
}

// outputCut warns that a document was cut at kept bytes by the output limit;
// size is the whole report file's size, or -1 for stdout (whose tool was
// stopped, so its size is unknown).
func (r *run) outputCut(kept, size int64, stopped bool) {
	limit := r.spec.outputLimit()
	var what string
	if r.spec.MemoryLimit > 0 && limit == r.spec.MemoryLimit {
		what = fmt.Sprintf("the memory limit of %d bytes", limit)
	} else {
		what = fmt.Sprintf("the output limit of %d bytes", limit)
	}
	msg := fmt.Sprintf("%s output exceeded %s: it was cut at %d bytes", r.spec.Tool.Name, what, kept)
	if size >= 0 {
		msg += fmt.Sprintf(" of %d", size)
	}
	if stopped {
		msg += " and the tool was stopped"
	}
	r.emit(&finding.Warning{Message: msg + "; the findings parsed from the part kept are kept"})
}
