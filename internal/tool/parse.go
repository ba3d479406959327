package tool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/finding"
)

// ParseStats counts what a parse read.
type ParseStats struct {
	Lines    int // lines (or JSON values) given to the line parser
	Findings int
	Skipped  int // valid lines without a finding (ErrSkip)
	Garbage  int // lines the parser could not read
	// FirstError is the first garbage line's error, for the warning.
	FirstError error
}

// Summary describes the unreadable lines for a warning, or "" when there
// were none.
func (st ParseStats) Summary(tool string) string {
	if st.Garbage == 0 {
		return ""
	}
	msg := fmt.Sprintf("%d lines of %s output could not be read and were skipped", st.Garbage, tool)
	if st.FirstError != nil {
		msg += fmt.Sprintf(" (first: %v)", st.FirstError)
	}
	return msg
}

// LineParser feeds lines to d's line parser and keeps the counts. It is what
// the task runner calls for every stdout line.
type LineParser struct {
	Def   *Definition
	PC    *ParseContext
	Emit  finding.Emit
	Stats ParseStats
}

// Feed parses one complete line; a parser panic counts as garbage, never
// kills the run.
func (p *LineParser) Feed(line []byte) {
	p.Stats.Lines++
	n := 0
	emit := func(f finding.Finding) { n++; p.Emit(f) }
	err := safeCall(func() error { return p.Def.Parse.Line(p.PC, line, emit) })
	p.Stats.Findings += n
	switch {
	case err == nil:
	case errors.Is(err, ErrSkip):
		p.Stats.Skipped++
	default:
		p.Stats.Garbage++
		if p.Stats.FirstError == nil {
			p.Stats.FirstError = err
		}
	}
}

// ParseDocument runs d's document parser over data.
func ParseDocument(d *Definition, pc *ParseContext, data []byte, emit finding.Emit) (ParseStats, error) {
	var st ParseStats
	e := func(f finding.Finding) { st.Findings++; emit(f) }
	err := safeCall(func() error { return d.Parse.Document(pc, data, e) })
	if err != nil {
		st.Garbage++
		st.FirstError = err
	}
	return st, err
}

// ParseOutput parses a whole saved output of d, as `sortie import` does.
// For a line-format tool it accepts JSON lines, but also a JSON array or
// pretty-printed JSON objects (older captures), and plain text lines.
func ParseOutput(d *Definition, pc *ParseContext, r io.Reader, emit finding.Emit) (ParseStats, error) {
	if d.Parse.Line == nil {
		data, err := io.ReadAll(io.LimitReader(r, 1<<30))
		if err != nil {
			return ParseStats{}, err
		}
		return ParseDocument(d, pc, data, emit)
	}
	lp := &LineParser{Def: d, PC: pc, Emit: emit}
	br := bufio.NewReaderSize(r, 1<<16)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		_, _ = br.Discard(3) // editors on Windows save JSON with a byte order mark
	}
	if d.Output.Format == FormatJSONLines || d.Output.Format == FormatJSON {
		head, _ := br.Peek(512)
		head = bytes.TrimLeft(head, " \t\r\n")
		if len(head) > 0 && head[0] == '[' || isPrettyJSON(head) {
			err := feedJSONValues(lp, br)
			return lp.Stats, err
		}
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !utf8.Valid(line) {
			lp.Stats.Lines++
			lp.Stats.Garbage++
			continue
		}
		lp.Feed(line)
	}
	return lp.Stats, sc.Err()
}

// isPrettyJSON reports whether the data starts with a JSON object spread over
// several lines.
func isPrettyJSON(head []byte) bool {
	if len(head) < 2 || head[0] != '{' {
		return false
	}
	rest := bytes.TrimLeft(head[1:], " \t\r")
	return len(rest) > 0 && rest[0] == '\n'
}

// feedJSONValues decodes a stream of JSON values (objects, or arrays of
// objects) and feeds each object to the line parser in compact form. A file
// that is one array is streamed element by element, so a truncated array
// still gives every complete element before the cut.
func feedJSONValues(lp *LineParser, br *bufio.Reader) error {
	dec := json.NewDecoder(br)
	var buf bytes.Buffer
	feed := func(raw json.RawMessage) {
		buf.Reset()
		_ = json.Compact(&buf, raw) // raw came from the decoder: valid JSON
		lp.Feed(buf.Bytes())
	}
	if head, _ := br.Peek(512); len(bytes.TrimLeft(head, " \t\r\n")) > 0 && bytes.TrimLeft(head, " \t\r\n")[0] == '[' {
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("read JSON array: %w", err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("read JSON array: %w", err)
			}
			feed(raw)
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("read JSON array: %w", err)
		}
	}
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read JSON: %w", err)
		}
		if raw = bytes.TrimSpace(raw); len(raw) > 0 && raw[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("read JSON array: %w", err)
			}
			for _, it := range items {
				feed(it)
			}
			continue
		}
		feed(raw)
	}
}

func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser panic: %v", r)
		}
	}()
	return f()
}
