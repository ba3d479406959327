package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/tool"
)

// mainEnv runs Main in process with the data and config directories in a
// fresh temporary directory. Main reads them from the environment, so the
// tests that use it do not run in parallel.
type mainEnv struct {
	t    *testing.T
	home string
}

func newMainEnv(t *testing.T) *mainEnv {
	t.Helper()
	home := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("SORTIE_TOOLS_DIR", "")
	t.Setenv("SORTIE_SERVER", "")
	return &mainEnv{t: t, home: home}
}

// run runs sortie with args and returns its exit code, stdout and stderr.
func (e *mainEnv) run(stdin string, args ...string) (int, string, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// write makes a file under the environment's home directory.
func (e *mainEnv) write(name, data string) string {
	e.t.Helper()
	p := filepath.Join(e.home, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// TestExitCodes walks every command's error paths: each exits with the
// code of the README's table and says what went wrong on a "sortie: error:"
// line.
func TestExitCodes(t *testing.T) {
	e := newMainEnv(t)
	e.write("config/sortie/tools/echo-hosts.yaml", echoHostsTool)
	// A directory: unreadable as a file even by root.
	unreadable := filepath.Dir(e.write("unreadable/x", ""))
	const noServer = "nats://127.0.0.1:1"
	cases := []struct {
		args []string
		code int
		msg  string // a regexp the error line matches
	}{
		// Usage: unknown commands, flags and arguments.
		{[]string{"nosuch"}, ExitUsage, `unknown command "nosuch"`},
		{[]string{"--nosuch"}, ExitUsage, `unknown flag: --nosuch`},
		{[]string{"x"}, ExitUsage, `name a tool`},
		{[]string{"x", "nosuch", "127.0.0.1"}, ExitUsage, `unknown tool "nosuch"`},
		{[]string{"x", "httpx", "--nosuch", "127.0.0.1"}, ExitUsage, `unknown flag: --nosuch`},
		{[]string{"x", "httpx", "--rate-limit", "fast", "127.0.0.1"}, ExitUsage, `not a whole number`},
		{[]string{"x", "echo-hosts", "-i", filepath.Join(e.home, "missing.txt")}, ExitUsage, `no such file`},
		{[]string{"x", "echo-hosts", "-i", unreadable}, ExitUsage, `is a directory`},
		{[]string{"x", "echo-hosts", "--task-timeout", "soon", "127.0.0.1"}, ExitUsage, `invalid argument "soon"`},
		{[]string{"x", "echo-hosts", "--raw-limit", "lots", "127.0.0.1"}, ExitUsage, `raw-limit`},
		{[]string{"x", "echo-hosts", "--out", unreadable, "127.0.0.1"}, ExitUsage, `unreadable`},
		{[]string{"x", "echo-hosts", "--", "-oX"}, ExitUsage, `starts with "-"`},
		{[]string{"import"}, ExitUsage, `import needs TOOL and FILE`},
		{[]string{"import", "nosuch", "f"}, ExitUsage, `unknown tool "nosuch"`},
		{[]string{"import", "httpx", filepath.Join(e.home, "missing.txt")}, ExitUsage, `no such file`},
		{[]string{"import", "httpx", unreadable}, ExitUsage, `is a directory`},
		{[]string{"tools", "extra"}, ExitUsage, `unknown command "extra"|accepts 0 arg`},
		{[]string{"install"}, ExitUsage, `name the tools to install`},
		{[]string{"install", "nosuch"}, ExitUsage, `unknown tool "nosuch"`},
		{[]string{"workers"}, ExitUsage, `no server`},
		{[]string{"runs", "extra"}, ExitUsage, `unknown command "extra"|accepts 0 arg`},
		{[]string{"runs", "show"}, ExitUsage, `name one run`},
		{[]string{"runs", "show", "a", "b"}, ExitUsage, `name one run`},
		{[]string{"--log-format", "xml", "tools"}, ExitUsage, `--log-format "xml"`},
		{[]string{"--config", filepath.Join(e.home, "missing.yaml"), "tools"}, ExitUsage, `config`},
		{[]string{"--tools-dir", filepath.Join(e.home, "missing"), "tools"}, ExitUsage, `tools directory`},
		// Usage: a run that does not exist, for every command that takes one.
		{[]string{"keys", "new"}, ExitUsage, `name the new key's file`},
		{[]string{"keys", "show", "extra"}, ExitUsage, `unknown command "extra"`},
		{[]string{"keys", "extra"}, ExitUsage, `unknown command "extra" for "sortie keys"`},
		{[]string{"completion", "nosh"}, ExitUsage, `unknown command "nosh" for "sortie completion"`},
		{[]string{"health", "extra"}, ExitUsage, `unknown command "extra"`},
		{[]string{"worker"}, ExitUsage, `no server`},
		{[]string{"worker", "--eviction", "bogus", "--server", noServer}, ExitUsage, `eviction "bogus"`},
		{[]string{"server", "--listen", "bad"}, ExitUsage, `--listen bad: address bad: missing port`},
		{[]string{"server", "--cluster-listen", "bad"}, ExitUsage, `--cluster-listen bad`},
		{[]string{"import", "httpx", "-"}, ExitUsage, `import: - is empty`},
		{[]string{"runs", "show", "nosuch"}, ExitUsage, `no local run nosuch`},
		{[]string{"runs", "attach", "nosuch"}, ExitUsage, `no local run nosuch`},
		{[]string{"runs", "cancel", "nosuch"}, ExitUsage, `no local run nosuch`},
		{[]string{"runs", "resume", "nosuch"}, ExitUsage, `no local run nosuch`},
		{[]string{"runs", "report", "nosuch"}, ExitUsage, `no local run nosuch`},
		{[]string{"runs", "report", "nosuch", "--out", unreadable}, ExitUsage, `no local run nosuch`},
		{[]string{"runs", "rm", "nosuch"}, ExitUsage, `no local run nosuch`},
		// Errors: no server there.
		{[]string{"runs", "--server", noServer}, ExitError, `connect|server`},
		{[]string{"runs", "show", "nosuch", "--server", noServer}, ExitError, `connect|server`},
		{[]string{"runs", "cancel", "nosuch", "--server", noServer}, ExitError, `connect|server`},
		{[]string{"workers", "--server", noServer}, ExitError, `connect|server`},
	}
	for _, c := range cases {
		code, _, stderr := e.run("", c.args...)
		checkExit(t, c.args, code, stderr, c.code, c.msg)
	}

	// Bad settings from the environment: the setting, the value, and what
	// the flag wants, not the parser's words.
	t.Setenv("SORTIE_CHUNK_SIZE", "abc")
	code, _, stderr := e.run("", "x", "echo-hosts", "127.0.0.1")
	checkExit(t, []string{"SORTIE_CHUNK_SIZE=abc", "x"}, code, stderr, ExitUsage, `SORTIE_CHUNK_SIZE: "abc" for --chunk-size is not a number$`)
	if strings.Contains(stderr, "strconv") {
		t.Errorf("the parser's words on the screen:\n%s", stderr)
	}
}

// checkExit checks an exit code and a "sortie: error:" line matching the
// regexp msg.
func checkExit(t *testing.T, args []string, code int, stderr string, wantCode int, msg string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("sortie %s: exit %d, want %d; stderr:\n%s", strings.Join(args, " "), code, wantCode, stderr)
		return
	}
	line := regexp.MustCompile(`(?m)^sortie: error: .*(` + msg + `)`)
	if !line.MatchString(stderr) {
		t.Errorf("sortie %s: stderr has no \"sortie: error:\" line matching %q:\n%s", strings.Join(args, " "), msg, stderr)
	}
}

// echoHostsTool is a custom tool that prints its targets back as hosts.
const echoHostsTool = `name: echo-hosts
binary: cat
inputs: [host, ip]
input: {mode: stdin}
output: {format: lines}
findings:
  - type: subdomain
    fields: {host: "{line}"}
`

// TestBrokenCustomTool: a custom tool whose definition does not load is
// disabled with a warning naming its file and position; every other
// command works.
func TestBrokenCustomTool(t *testing.T) {
	e := newMainEnv(t)
	e.write("config/sortie/tools/echo-hosts.yaml", echoHostsTool)
	bad := e.write("config/sortie/tools/bad.yaml", "name: bad\nbinary: cat\ninputs: [host]\noutput: {format: lines}\nfindings: [{type: nosuch, fields: {host: \"{line}\"}}]\n")
	notYAML := e.write("config/sortie/tools/notyaml.yaml", "name: [\n")
	warning := regexp.MustCompile(`(?m)^sortie: warning: custom tool "bad" is disabled: ` + regexp.QuoteMeta(bad) + `:5:19: `)
	warning2 := regexp.MustCompile(`(?m)^sortie: warning: custom tool "notyaml" is disabled: ` + regexp.QuoteMeta(notYAML) + `:1: invalid YAML`)

	for _, args := range [][]string{{"--help"}, {"completion", "bash"}, {"x", "httpx", "--help"}, {"runs"}} {
		code, stdout, stderr := e.run("", args...)
		if code != ExitOK || stdout == "" {
			t.Errorf("sortie %s: exit %d, stdout %d bytes; stderr:\n%s", strings.Join(args, " "), code, len(stdout), stderr)
		}
		if !warning.MatchString(stderr) || !warning2.MatchString(stderr) {
			t.Errorf("sortie %s: no warning naming the broken files:\n%s", strings.Join(args, " "), stderr)
		}
	}
	code, stdout, stderr := e.run("", "x", "echo-hosts", "127.0.0.1", "-q", "--json", "--out", filepath.Join(e.home, "run1"))
	if code != ExitOK || !strings.Contains(stdout, `"host":"127.0.0.1"`) {
		t.Errorf("the working custom tool: exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}

	code, _, stderr = e.run("", "x", "bad", "127.0.0.1")
	if code != ExitUsage || !strings.Contains(stderr, `sortie: error: tool "bad" is disabled: its definition does not load:`) ||
		!strings.Contains(stderr, "hint: fix or remove "+bad) || warning.MatchString(stderr) {
		t.Errorf("sortie x bad: exit %d; stderr:\n%s", code, stderr)
	}

	// A name that is no tool: the warnings may tell why.
	code, _, stderr = e.run("", "x", "notyam", "127.0.0.1")
	if code != ExitUsage || !strings.Contains(stderr, `unknown tool "notyam" (did you mean notyaml?)`) || !warning2.MatchString(stderr) {
		t.Errorf("sortie x notyam: exit %d; stderr:\n%s", code, stderr)
	}

	code, stdout, stderr = e.run("", "tools", "--json")
	if code != ExitOK {
		t.Fatalf("sortie tools: exit %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{`"name":"bad","state":"broken","installed":false,"path":"` + bad + `","error":"` + bad + `:5:19: `, `"name":"notyaml","state":"broken"`, `"name":"echo-hosts","state":"installed"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("sortie tools --json has no %s:\n%s", want, stdout)
		}
	}

	// Completion asks sortie at every TAB: no warning in the user's line.
	code, _, stderr = e.run("", "__complete", "x", "")
	if code != ExitOK || strings.Contains(stderr, "warning") {
		t.Errorf("sortie __complete: exit %d, stderr %q", code, stderr)
	}
}

// TestCachedVersionRetriesFailures: a failed version command is not run
// again on every command, but is an hour later (its environment may have
// been fixed), and a success is kept.
func TestCachedVersionRetriesFailures(t *testing.T) {
	e := newMainEnv(t)
	calls := filepath.Join(e.home, "calls")
	fixed := filepath.Join(e.home, "fixed")
	bin := e.write("bin/vtool", "#!/bin/sh\necho x >> "+calls+"\n[ -e "+fixed+" ] && echo 'vtool 1.2.3'\n")
	if err := os.Chmod(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	d := &tool.Definition{Name: "vtool", Binary: "vtool", Version: tool.VersionCommand{Args: []string{"-v"}, Regex: `vtool (\S+)`}}
	ncalls := func() int { b, _ := os.ReadFile(calls); return strings.Count(string(b), "x") }

	if v := cachedVersion(t.Context(), bin, d); v != "" || ncalls() != 1 {
		t.Fatalf("first: %q after %d calls", v, ncalls())
	}
	if err := os.WriteFile(fixed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if v := cachedVersion(t.Context(), bin, d); v != "" || ncalls() != 1 {
		t.Fatalf("within the hour: %q after %d calls, want the cached failure", v, ncalls())
	}
	// An hour later.
	cacheFile := filepath.Join(e.home, "data", "sortie", "cache", "versions.json")
	b, err := os.ReadFile(cacheFile)
	if err != nil {
		t.Fatal(err)
	}
	var cache map[string]string
	if err := json.Unmarshal(b, &cache); err != nil {
		t.Fatal(err)
	}
	for k := range cache {
		cache[k] = "!" + strconv.FormatInt(time.Now().Add(-2*time.Hour).Unix(), 10)
	}
	if b, err = json.Marshal(cache); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cacheFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if v := cachedVersion(t.Context(), bin, d); v != "1.2.3" || ncalls() != 2 {
		t.Fatalf("an hour later: %q after %d calls", v, ncalls())
	}
	if v := cachedVersion(t.Context(), bin, d); v != "1.2.3" || ncalls() != 2 {
		t.Fatalf("cached success: %q after %d calls", v, ncalls())
	}
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"30d", "12h", "90m", "0d", "-1d", "d", "36501d", "200000d", "1.5h", "soon", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseAge(s)
		if err == nil && (d <= 0 || d > 36500*24*time.Hour) {
			t.Fatalf("parseAge(%q) = %v, no error", s, d)
		}
		if err != nil && exitCode(err) != ExitUsage {
			t.Fatalf("parseAge(%q): %v is not a usage error", s, err)
		}
	})
}
