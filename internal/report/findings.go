// Package report owns a run's directory on disk: its metadata, the findings
// it produced (findings.jsonl), the exact commands and the raw tool output.
package report

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/safefile"
)

// flushEvery bounds how much a crash can lose: buffered findings are written
// to the file at least this often while findings keep coming.
const flushEvery = 100 * time.Millisecond

// FindingsWriter appends findings to a JSON-lines file, once per id. It is
// safe for concurrent use.
type FindingsWriter struct {
	mu        sync.Mutex
	f         *os.File
	w         *bufio.Writer
	enc       *json.Encoder // encodes into line
	line      bytes.Buffer
	seen      idSet
	counts    map[finding.Type]int
	lastFlush time.Time
	// timer flushes findings that are still buffered flushEvery after they
	// were written, so a tool that goes quiet does not hold them back.
	timer *time.Timer
	err   error
}

// CreateFindings creates the findings file of a new run at path,
// exclusively: an existing file, or a link, at path is an error.
func CreateFindings(path string) (*FindingsWriter, error) {
	f, err := safefile.Create(path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create findings: %w", err)
	}
	fw := newFindingsWriter(f)
	fw.f = f
	return fw, nil
}

// OpenFindings opens path for appending, creating it when missing. An
// existing file must be the run's own: a regular file of the current user
// with a single link, never a symbolic link (which is not followed).
// Findings already in the file are read first, so that a resumed run does
// not write them twice, and a torn last line (a crash mid-write) is cut, so
// that new findings start on a line of their own.
func OpenFindings(path string) (*FindingsWriter, error) {
	f, err := safefile.OpenAppend(path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open findings: %w", err)
	}
	fw := newFindingsWriter(f)
	fw.f = f
	if err := fw.loadExisting(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := dropTornLine(f); err != nil {
		f.Close()
		return nil, err
	}
	return fw, nil
}

// dropTornLine cuts a last line without its newline (a crash mid-write), so
// that the next finding does not get glued to it. The finding it held was not
// counted as written and comes again.
func dropTornLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	const chunk = 64 << 10
	end := st.Size()
	buf := make([]byte, chunk)
	for off := end; off > 0; {
		n := int64(chunk)
		if off < n {
			n = off
		}
		off -= n
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return fmt.Errorf("read findings: %w", err)
		}
		if off+n == end && buf[n-1] == '\n' {
			return nil // the file ends with a whole line
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return f.Truncate(off + int64(i) + 1)
		}
	}
	return f.Truncate(0)
}

// NewFindingsWriter writes findings to w (for benchmarks and streams).
func NewFindingsWriter(w io.Writer) *FindingsWriter { return newFindingsWriter(w) }

func newFindingsWriter(w io.Writer) *FindingsWriter {
	fw := &FindingsWriter{w: bufio.NewWriterSize(w, 256<<10), counts: map[finding.Type]int{}, lastFlush: time.Now()}
	fw.enc = json.NewEncoder(&fw.line)
	fw.enc.SetEscapeHTML(false)
	return fw
}

func (fw *FindingsWriter) loadExisting(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var head struct {
			ID   string       `json:"_id"`
			Type finding.Type `json:"_type"`
		}
		if json.Unmarshal(sc.Bytes(), &head) != nil || head.ID == "" {
			continue // a torn last line from a crash: the finding comes again
		}
		if k, ok := idKey(head.ID); ok {
			if fw.seen.add(k) {
				fw.counts[head.Type]++
			}
		}
	}
	return sc.Err()
}

// idKey folds a finding id into a map key: 64 bits of a SHA-256 are plenty
// to tell a run's findings apart, and half the memory of the full id.
func idKey(id string) (uint64, bool) {
	if len(id) < 16 {
		return 0, false
	}
	var b [8]byte
	if _, err := hex.Decode(b[:], []byte(id[:16])); err != nil {
		return 0, false
	}
	var k uint64
	for _, c := range b {
		k = k<<8 | uint64(c)
	}
	return k, true
}

// Write appends f unless a finding with the same id was written before; it
// reports whether f was new. f must be stamped.
func (fw *FindingsWriter) Write(f finding.Finding) (bool, error) {
	_, isNew, err := fw.WriteLine(f)
	return isNew, err
}

// WriteLine is Write, also returning the JSON line written (with its
// newline), so that a caller streaming JSON need not encode again. The line
// is valid until the next write.
func (fw *FindingsWriter) WriteLine(f finding.Finding) ([]byte, bool, error) {
	k, ok := idKey(f.Base().ID)
	if !ok {
		return nil, false, fmt.Errorf("write finding: missing or bad id %q", f.Base().ID)
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil {
		return nil, false, fw.err
	}
	if !fw.seen.add(k) {
		return nil, false, nil
	}
	// Added before it is written: if the write fails, fw.err stops every
	// later write anyway.
	fw.line.Reset()
	if err := fw.enc.Encode(f); err != nil {
		fw.err = fmt.Errorf("write finding: %w", err)
		return nil, false, fw.err
	}
	line := fw.line.Bytes()
	if _, err := fw.w.Write(line); err != nil {
		fw.err = fmt.Errorf("write finding: %w", err)
		return nil, false, fw.err
	}
	fw.counts[f.Kind()]++
	if now := time.Now(); now.Sub(fw.lastFlush) >= flushEvery {
		fw.lastFlush = now
		if err := fw.w.Flush(); err != nil {
			fw.err = fmt.Errorf("write findings: %w", err)
			return line, true, fw.err
		}
	} else if fw.timer == nil {
		fw.timer = time.AfterFunc(flushEvery, fw.timedFlush)
	}
	return line, true, nil
}

func (fw *FindingsWriter) timedFlush() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.timer = nil
	if fw.err == nil && fw.w.Buffered() > 0 {
		fw.lastFlush = time.Now()
		if err := fw.w.Flush(); err != nil {
			fw.err = fmt.Errorf("write findings: %w", err)
		}
	}
}

// Counts returns how many findings of each type were written (including
// those already in the file when it was opened).
func (fw *FindingsWriter) Counts() map[finding.Type]int {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	out := make(map[finding.Type]int, len(fw.counts))
	for k, v := range fw.counts {
		out[k] = v
	}
	return out
}

// Flush writes buffered findings to the file.
func (fw *FindingsWriter) Flush() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.timer != nil {
		fw.timer.Stop()
		fw.timer = nil
	}
	if fw.err != nil {
		return fw.err
	}
	return fw.w.Flush()
}

// Close flushes, syncs and closes the file.
func (fw *FindingsWriter) Close() error {
	err := fw.Flush()
	if fw.f != nil {
		if serr := fw.f.Sync(); err == nil {
			err = serr
		}
		if cerr := fw.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
