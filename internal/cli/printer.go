package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/termsafe"
)

// printer shows a run to the user. One is chosen per command: JSON lines,
// a live terminal view, or plain lines when stdout is not a terminal.
type printer interface {
	Start(verb, tool, runID string)
	Command(display string)
	// Finding shows a finding; line is its JSON encoding as stored, newline
	// included. An error means the output is gone (a closed pipe) and the
	// run should stop.
	Finding(f finding.Finding, line []byte) error
	Summary(s summary)
}

type summary struct {
	State    string
	Reason   string
	Counts   map[finding.Type]int
	Duration time.Duration
	Dir      string
	Garbage  int
}

// newPrinter chooses the printer; onOutErr is told when stdout fails (a
// closed pipe).
func newPrinter(g *globalOptions, onOutErr func(error)) printer {
	out := g.stdout
	var buf *outBuffer
	if !isTerminal(out) {
		buf = newOutBuffer(out, onOutErr)
		out = buf
	}
	if g.JSON {
		return &jsonPrinter{out: out, buf: buf, errw: g.stderr, quiet: g.Quiet || !isTerminal(g.stderr)}
	}
	hp := &humanPrinter{out: out, buf: buf, errw: g.stderr, quiet: g.Quiet}
	hp.live = !g.Quiet && isTerminal(g.stderr) && isTerminal(g.stdout)
	hp.color = hp.live && os.Getenv("NO_COLOR") == ""
	return hp
}

// jsonOut wraps w for JSON lines written whole, one per Write (a
// json.Encoder's): each is passed through termsafe.JSON, so that bidi and
// other format characters are escaped like controls.
func jsonOut(w io.Writer) io.Writer { return jsonWriter{w} }

type jsonWriter struct{ w io.Writer }

func (j jsonWriter) Write(p []byte) (int, error) {
	if _, err := j.w.Write(termsafe.JSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// jsonPrinter streams findings as JSON lines on stdout; the summary goes to
// stderr when stderr is a terminal.
type jsonPrinter struct {
	out, errw io.Writer
	buf       *outBuffer // out, when stdout is not a terminal
	quiet     bool
}

var _ printer = (*jsonPrinter)(nil)

func (p *jsonPrinter) Start(string, string, string) {}
func (p *jsonPrinter) Command(string)               {}
func (p *jsonPrinter) Finding(_ finding.Finding, line []byte) error {
	// The same JSON, with bidi and other format characters escaped too.
	_, err := p.out.Write(termsafe.JSON(line))
	return err
}
func (p *jsonPrinter) Summary(s summary) {
	if p.buf != nil {
		_ = p.buf.Flush()
	}
	if !p.quiet {
		fmt.Fprintln(p.errw, summaryLine(s))
	}
}

// humanPrinter prints one readable line per finding. On a terminal it also
// keeps a status line (elapsed time, counts) redrawn on stderr.
type humanPrinter struct {
	out, errw   io.Writer
	buf         *outBuffer // out, when stdout is not a terminal
	quiet       bool
	live, color bool

	mu      sync.Mutex
	tool    string
	start   time.Time
	n       int
	stop    chan struct{}
	stopped chan struct{}
}

var _ printer = (*humanPrinter)(nil)

// Start says what the run does: "running httpx", "importing nmap".
func (p *humanPrinter) Start(verb, tool, runID string) {
	p.tool, p.start = tool, time.Now()
	if p.quiet {
		return
	}
	fmt.Fprintf(p.errw, "sortie: %s %s (run %s)\n", verb, termsafe.Clean(tool), termsafe.Clean(runID))
	if p.live {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.ticker()
	}
}

func (p *humanPrinter) ticker() {
	defer close(p.stopped)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	for i := 0; ; i++ {
		select {
		case <-p.stop:
			p.mu.Lock()
			fmt.Fprint(p.errw, "\r\033[K")
			p.mu.Unlock()
			return
		case <-t.C:
			p.mu.Lock()
			fmt.Fprintf(p.errw, "\r\033[K%s %s  %d findings  %s", frames[i%len(frames)], termsafe.Clean(p.tool), p.n,
				time.Since(p.start).Round(100*time.Millisecond))
			p.mu.Unlock()
		}
	}
}

func (p *humanPrinter) Command(display string) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	fmt.Fprintf(p.errw, "sortie: $ %s\n", termsafe.Clean(display))
}

func (p *humanPrinter) Finding(f finding.Finding, _ []byte) error {
	switch f.Kind() {
	case finding.TypeTarget, finding.TypeProgress, finding.TypeStat:
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.clearStatus()
	w := p.out
	if k := f.Kind(); k == finding.TypeWarning || k == finding.TypeError || k == finding.TypeInfo {
		w = p.errw
	}
	_, err := fmt.Fprintln(w, p.tag(f.Kind())+" "+describe(f))
	return err
}

func (p *humanPrinter) clearStatus() {
	if p.live {
		fmt.Fprint(p.errw, "\r\033[K")
	}
}

func (p *humanPrinter) Summary(s summary) {
	if p.stop != nil {
		close(p.stop)
		<-p.stopped
	}
	if p.buf != nil {
		_ = p.buf.Flush()
	}
	if p.quiet {
		return
	}
	fmt.Fprintln(p.errw, summaryLine(s))
}

func summaryLine(s summary) string {
	var parts []string
	var types []string
	for _, t := range finding.Types() {
		if n := s.Counts[t]; n > 0 && t != finding.TypeTarget {
			types = append(types, fmt.Sprintf("%d %s", n, t))
		}
	}
	if len(types) == 0 {
		types = []string{"no findings"}
	}
	parts = append(parts, strings.Join(types, ", "))
	if s.Garbage > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable lines skipped", s.Garbage))
	}
	state := s.State
	if s.Reason != "" && s.Reason != "completed" {
		state += " (" + s.Reason + ")"
	}
	return fmt.Sprintf("sortie: %s in %s: %s\nsortie: report: %s", termsafe.Clean(state), s.Duration.Round(time.Millisecond),
		strings.Join(parts, "; "), termsafe.Clean(s.Dir))
}

var typeColors = map[finding.Type]string{
	finding.TypeVulnerability: "31", finding.TypeError: "31", finding.TypeWarning: "33",
	finding.TypeURL: "36", finding.TypePort: "32", finding.TypeTechnology: "35",
}

func (p *humanPrinter) tag(t finding.Type) string {
	s := fmt.Sprintf("%-13s", "["+string(t)+"]")
	if c, ok := typeColors[t]; ok && p.color {
		return "\033[" + c + "m" + s + "\033[0m"
	}
	return s
}

// describe is the one-line human form of a finding. Every part is made safe
// for a terminal (termsafe.Clean): a finding's fields come from tools and
// targets, and a page title can hold escape sequences.
func describe(f finding.Finding) string {
	b := []string{}
	add := func(format string, v ...any) { b = append(b, termsafe.Clean(fmt.Sprintf(format, v...))) }
	switch v := f.(type) {
	case *finding.URL:
		add("%s", v.URL)
		if v.StatusCode != 0 {
			add("[%d]", v.StatusCode)
		}
		if v.Title != "" {
			add("[%s]", v.Title)
		}
		if v.Webserver != "" {
			add("[%s]", v.Webserver)
		}
		if v.ContentLength != 0 {
			add("[%d bytes]", v.ContentLength)
		}
	case *finding.Port:
		addr := v.IP
		if addr == "" {
			addr = v.Host
		}
		add("%s:%d/%s %s", addr, v.Port, v.Protocol, v.State)
		if v.ServiceName != "" {
			add("%s", v.ServiceName)
		}
		if v.Product != "" {
			add("%s %s", v.Product, v.Version)
		}
	case *finding.IP:
		add("%s", v.IP)
		if v.Host != "" {
			add("(%s)", v.Host)
		}
		if v.Alive {
			add("alive")
		}
	case *finding.Subdomain:
		add("%s", v.Host)
		if len(v.Sources) > 0 {
			add("[%s]", strings.Join(v.Sources, ","))
		}
	case *finding.Domain:
		add("%s", v.Domain)
		if v.Registrar != "" {
			add("registrar=%q", v.Registrar)
		}
		if v.ExpirationDate != nil {
			add("expires=%s", v.ExpirationDate.Format("2006-01-02"))
		}
	case *finding.Record:
		add("%s %s %s", v.Host, v.Type, v.Name)
	case *finding.Vulnerability:
		add("[%s] %s", v.Severity, v.Name)
		if v.ID != "" {
			add("(%s)", v.ID)
		}
		add("@ %s", v.MatchedAt)
	case *finding.Technology:
		add("%s", strings.TrimSpace(v.Product+" "+v.Version))
		add("@ %s", v.Match)
	case *finding.Tag:
		add("[%s] %s @ %s", v.Category, v.Name, v.Match)
	case *finding.Exploit:
		add("%s %s @ %s", v.ID, v.Name, v.MatchedAt)
	case *finding.Certificate:
		add("%s:%d CN=%s", v.Host, v.Port, v.SubjectCN)
		if v.NotAfter != nil {
			add("expires=%s", v.NotAfter.Format("2006-01-02"))
		}
		if v.SelfSigned {
			add("self-signed")
		}
	case *finding.UserAccount:
		add("%s on %s", v.Username, v.SiteName)
		if v.URL != "" {
			add("%s", v.URL)
		}
	case *finding.Info:
		add("%s", v.Message)
	case *finding.Warning:
		add("%s", v.Message)
	case *finding.Error:
		msg := termsafe.Clean(v.Message)
		for _, l := range v.OutputTail {
			msg += "\n    | " + termsafe.Clean(l)
		}
		b = append(b, msg)
	default:
		add("%s", strings.Join(f.Identity(), " "))
	}
	return strings.Join(b, " ")
}
