package runner

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"
)

const (
	// readChunk is the size of a single read from an output pipe.
	readChunk = 64 << 10
	// maxTailLineBytes is where lines kept in a tail are cut.
	maxTailLineBytes = 4 << 10
)

// lineStream splits one output stream into lines, filters them and hands
// the good ones to emit. Its counters are read only after run has returned.
type lineStream struct {
	max  int
	emit func([]byte) // nil: count only
	mu   *sync.Mutex  // held around emit, shared by the streams of a run
	tail tail

	lines, invalid, long int
	partial              bool
}

func newLineStream(maxLine, tailLines int, emit func([]byte), mu *sync.Mutex) *lineStream {
	return &lineStream{max: maxLine, emit: emit, mu: mu, tail: tail{n: tailLines}}
}

// run reads r until EOF or an error. A line that exceeds the limit is
// dropped as soon as that is known and the rest of it is discarded up to
// the next newline, so at most max+1 bytes of a line are ever buffered.
func (s *lineStream) run(r io.Reader) {
	chunk := make([]byte, readChunk)
	var pending []byte // start of a line whose newline has not been read yet
	discarding := false
	for {
		n, err := r.Read(chunk)
		data := chunk[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if discarding {
					break
				}
				// One byte over max may still be a '\r' before the newline.
				if len(pending)+len(data) > s.max+1 {
					s.long++
					discarding = true
					pending = pending[:0]
				} else {
					pending = append(pending, data...)
				}
				break
			}
			line := data[:i]
			data = data[i+1:]
			if discarding {
				discarding = false
				continue
			}
			if len(pending) > 0 {
				if len(pending)+len(line) > s.max+1 {
					s.long++
					pending = pending[:0]
					continue
				}
				pending = append(pending, line...)
				line = pending
			}
			s.line(line)
			pending = pending[:0]
		}
		if err != nil {
			s.partial = discarding || len(pending) > 0
			return
		}
	}
}

// line handles one complete line without its newline.
func (s *lineStream) line(b []byte) {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if len(b) > s.max {
		s.long++
		return
	}
	if !validLine(b) {
		s.invalid++
		return
	}
	s.lines++
	s.tail.add(b)
	if s.emit != nil {
		s.mu.Lock()
		s.emit(b)
		s.mu.Unlock()
	}
}

// validLine reports whether b is valid UTF-8 without C0 control characters
// (other than tab) or DEL: binary output. C1 characters (U+0080-U+009F) are
// valid text a tool may well print (a page title holding U+009B): the line
// is kept, and whatever prints it to a terminal escapes them.
func validLine(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	return true
}

// tail keeps the last n lines it was given, reusing its buffers.
type tail struct {
	n     int
	lines [][]byte
	next  int // index of the oldest line once len(lines) == n
}

func (t *tail) add(b []byte) {
	if t.n == 0 {
		return
	}
	if len(b) > maxTailLineBytes {
		cut := maxTailLineBytes
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = b[:cut]
	}
	if len(t.lines) < t.n {
		t.lines = append(t.lines, append([]byte(nil), b...))
		return
	}
	t.lines[t.next] = append(t.lines[t.next][:0], b...)
	t.next = (t.next + 1) % t.n
}

// strings returns the lines, oldest first, or nil if there are none.
func (t *tail) strings() []string {
	if len(t.lines) == 0 {
		return nil
	}
	out := make([]string, 0, len(t.lines))
	for i := range t.lines {
		out = append(out, string(t.lines[(t.next+i)%len(t.lines)]))
	}
	return out
}
