package tool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// loadCustom loads testdata/custom/name.yaml.
func loadCustom(t *testing.T, name string) *Definition {
	t.Helper()
	d, err := LoadFile(filepath.Join("testdata", "custom", name+".yaml"))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return d
}

// parseCustom parses data with d as `sortie import` does and returns the
// findings as the parser made them (not stamped: no normalisation).
func parseCustom(t *testing.T, d *Definition, data string) ([]finding.Finding, ParseStats) {
	t.Helper()
	var out []finding.Finding
	st, err := ParseOutput(d, &ParseContext{}, strings.NewReader(data), func(f finding.Finding) {
		out = append(out, f)
	})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return out, st
}

func readCustom(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "custom", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func customTime(s string) *time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &tm
}

func assertCustomFindings(t *testing.T, got, want []finding.Finding) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d findings, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("finding %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
}

func TestCustomJSONLinesDefinition(t *testing.T) {
	t.Parallel()
	d := loadCustom(t, "tlsx")
	want := &Definition{
		Name:        "tlsx",
		Description: "TLS certificate grabber (custom tool, JSON lines)",
		Binary:      "tlsx",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/tlsx", Version: "v1.1.6", Package: "./cmd/tlsx",
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.Host, target.IP, target.HostPort, target.URL},
		Input:   Input{Mode: InputFile, Flag: "-l"},
		Options: map[string]Flag{
			"threads":   {Flag: "-c"},
			"timeout":   {Flag: "-timeout", Unit: "s"},
			"retries":   {Flag: "-retry"},
			"delay":     {Flag: "-delay", Unit: "go"},
			"ports":     {Flag: "-p"},
			"scan_mode": {Flag: "-sm"},
			"sni":       {Flag: "-sni", Join: ","},
		},
		Extra: []Option{
			{Name: "scan_mode", Kind: KindString, Help: "TLS connection mode: auto, ctls, ztls or openssl", Default: "auto"},
			{Name: "sni", Kind: KindList, Help: "server names to send in the TLS handshake"},
		},
		Fixed:  []string{"-json", "-silent", "-nc", "-duc"},
		Output: Output{Format: FormatJSONLines},
	}
	if d.Parse.Line == nil || d.Parse.Document != nil {
		t.Fatalf("parser = %+v, want a line parser", d.Parse)
	}
	got := *d
	got.Parse = Parser{}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("definition:\n got %#v\nwant %#v", &got, want)
	}
}

func TestCustomJSONLinesParse(t *testing.T) {
	t.Parallel()
	d := loadCustom(t, "tlsx")
	fs, st := parseCustom(t, d, readCustom(t, "tlsx.jsonl"))
	if st != (ParseStats{Lines: 3, Findings: 5, Skipped: 1}) {
		t.Errorf("stats = %+v", st)
	}
	assertCustomFindings(t, fs, []finding.Finding{
		&finding.Certificate{
			Host: "localhost", IP: "127.0.0.1", Port: 8443,
			FingerprintSHA256: "bdabf8fe8c56902330aa1d6fae919b8917fee3ed6b29f6307437222ca987aa3c",
			SerialNumber:      "5A:1B:2C:3D", SubjectCN: "localhost", SubjectAN: []string{"localhost", "127.0.0.1"},
			IssuerCN: "localhost", Issuer: "CN=localhost",
			NotBefore: customTime("2026-01-01T00:00:00Z"), NotAfter: customTime("2027-01-01T00:00:00Z"),
			SelfSigned: true, TLSVersion: "tls13", Cipher: "TLS_AES_128_GCM_SHA256",
		},
		&finding.Port{IP: "127.0.0.1", Host: "localhost", Port: 8443, ServiceName: "https", TLS: true},
		&finding.Tag{Name: "self-signed-certificate", Match: "localhost:8443", Category: "tls", Value: "Sortie Test CA"},
		&finding.Certificate{
			Host: "127.0.0.1", IP: "127.0.0.1", Port: 9443,
			FingerprintSHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			SerialNumber:      "01", SubjectCN: "api.internal", SubjectAN: []string{"api.internal"},
			IssuerCN: "Internal CA", NotBefore: customTime("2026-03-01T00:00:00Z"), NotAfter: customTime("2026-06-01T00:00:00Z"),
			TLSVersion: "tls12", Cipher: "ECDHE-RSA-AES128-GCM-SHA256",
		},
		&finding.Port{IP: "127.0.0.1", Host: "127.0.0.1", Port: 9443, ServiceName: "https", TLS: true},
	})
	// Stamped findings get distinct ids.
	for _, f := range fs {
		finding.Stamp(f, finding.Scope{Run: "r", Source: finding.Source{Tool: "tlsx"}}, time.Unix(0, 0))
	}
	if n := uniqueIDs(fs); n != len(fs) {
		t.Errorf("%d distinct ids for %d findings", n, len(fs))
	}
}

// A JSON array or pretty-printed capture parses like JSON lines.
func TestCustomJSONLinesParseArray(t *testing.T) {
	t.Parallel()
	d := loadCustom(t, "tlsx")
	lines := strings.Split(strings.TrimSpace(readCustom(t, "tlsx.jsonl")), "\n")
	fs, st := parseCustom(t, d, "[\n"+strings.Join(lines, ",\n")+"\n]\n")
	if len(fs) != 5 || st.Garbage != 0 {
		t.Errorf("findings = %d, stats = %+v", len(fs), st)
	}
}

func TestCustomRegexDefinition(t *testing.T) {
	t.Parallel()
	d := loadCustom(t, "masscan")
	if d.Name != "masscan" || d.Binary != "masscan" || d.Output.Format != FormatRegex || d.Output.File != nil ||
		!reflect.DeepEqual(d.Inputs, []target.Type{target.IP, target.CIDR}) || d.Input != (Input{Mode: InputArg}) ||
		!reflect.DeepEqual(d.Install, Install{Apt: []string{"masscan"}}) ||
		!reflect.DeepEqual(d.Version, VersionCommand{Args: []string{"--version"}, Regex: `Masscan version ([0-9][^\s]*)`}) {
		t.Errorf("definition = %+v", d)
	}
	wantExtra := []Option{
		{Name: "banners", Kind: KindBool, Help: "grab banners (needs a source IP, see masscan(8))"},
		{Name: "adapter", Kind: KindString, Help: "network interface to send from"},
		{Name: "wait", Kind: KindDuration, Help: "how long to wait for late replies", Default: "3"},
	}
	if !reflect.DeepEqual(d.Extra, wantExtra) {
		t.Errorf("extra = %+v", d.Extra)
	}
	var names []string
	for _, o := range d.OptionSet() {
		names = append(names, o.Name)
	}
	if got := strings.Join(names, " "); got != "rate_limit retries ports banners adapter wait" {
		t.Errorf("option set = %s", got)
	}
}

func TestCustomRegexParse(t *testing.T) {
	t.Parallel()
	d := loadCustom(t, "masscan")
	fs, st := parseCustom(t, d, readCustom(t, "masscan.txt"))
	if st != (ParseStats{Lines: 9, Findings: 5, Skipped: 4}) {
		t.Errorf("stats = %+v", st)
	}
	assertCustomFindings(t, fs, []finding.Finding{
		&finding.Port{IP: "127.0.0.1", Port: 22, Protocol: "tcp", State: "open"},
		&finding.Port{IP: "127.0.0.5", Port: 8080, Protocol: "tcp", State: "open"},
		&finding.Tag{Name: "banner", Match: "127.0.0.1:22/tcp", Category: "ssh", Value: "SSH-2.0-OpenSSH_9.2p1 Debian-2"},
		&finding.Tag{Name: "banner", Match: "127.0.0.5:8080/tcp", Category: "title", Value: "Sortie test page"},
		&finding.Port{IP: "127.0.0.53", Port: 53, Protocol: "udp", State: "open"},
	})
}

func TestCustomBuild(t *testing.T) {
	t.Parallel()
	t.Run("tlsx", func(t *testing.T) {
		t.Parallel()
		d := loadCustom(t, "tlsx")
		dir := t.TempDir()
		cmd, err := d.Build(Invocation{
			Targets: []string{"localhost", "127.0.0.1:8443"},
			Options: map[string][]string{
				"threads": {"10"}, "timeout": {"2500ms"}, "delay": {"100ms"}, "sni": {"a.test", "b.test"},
			},
			Dir: dir,
		})
		if err != nil {
			t.Fatal(err)
		}
		targets := filepath.Join(dir, "targets.txt")
		want := []string{"tlsx", "-c", "10", "-timeout", "3", "-delay", "100ms", "-sm", "auto",
			"-sni", "a.test,b.test", "-json", "-silent", "-nc", "-duc", "-l", targets}
		if !reflect.DeepEqual(cmd.Argv, want) {
			t.Errorf("argv:\n got %q\nwant %q", cmd.Argv, want)
		}
		if data, err := os.ReadFile(targets); err != nil || string(data) != "localhost\n127.0.0.1:8443\n" {
			t.Errorf("targets file = %q, %v", data, err)
		}
		if cmd.Stdin != nil || cmd.OutputFile != "" {
			t.Errorf("stdin = %q, output file = %q", cmd.Stdin, cmd.OutputFile)
		}
	})
	t.Run("masscan", func(t *testing.T) {
		t.Parallel()
		d := loadCustom(t, "masscan")
		cmd, err := d.Build(Invocation{
			Targets: []string{"127.0.0.1", "127.0.0.0/30"},
			Options: map[string][]string{"ports": {"22,80-90"}, "rate_limit": {"500"}, "banners": {"true"}},
			Dir:     t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"masscan", "--rate", "500", "-p", "22,80-90", "--banners", "--wait", "3",
			"127.0.0.1", "127.0.0.0/30"}
		if !reflect.DeepEqual(cmd.Argv, want) {
			t.Errorf("argv:\n got %q\nwant %q", cmd.Argv, want)
		}
	})
	t.Run("refuses a flag-like target and an unknown option", func(t *testing.T) {
		t.Parallel()
		d := loadCustom(t, "masscan")
		if _, err := d.Build(Invocation{Targets: []string{"-iL/etc/passwd"}, Dir: t.TempDir()}); err == nil {
			t.Error("a target starting with - was accepted")
		}
		_, err := d.Build(Invocation{Targets: []string{"127.0.0.1"}, Options: map[string][]string{"threads": {"4"}}, Dir: t.TempDir()})
		if err == nil || err.Error() != `masscan has no option "threads"` {
			t.Errorf("err = %v", err)
		}
	})
}

// A JSON-lines tool that writes its results to a file: Build passes the path
// and ParseOutput reads the file.
func TestCustomOutputFile(t *testing.T) {
	t.Parallel()
	d, err := ParseDefinition("probe.yaml", []byte(`
name: probe
binary: /opt/probe/bin/probe
inputs: [url]
input: {mode: stdin}
single_target: true
options:
  header: {flag: -H}
  follow_redirect: -L
output:
  format: jsonl
  file: [-o, "{file}", --format=jsonl]
findings:
  - type: url
    fields: {url: "{u}", status_code: "{code}", title: "{meta.title}", tech: "{tech}", tags: "{labels}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd, err := d.Build(Invocation{
		Targets: []string{"http://127.0.0.1:8080/"},
		Options: map[string][]string{"header": {"X-A: 1", "X-B: 2"}, "follow_redirect": {"true"}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "output.jsonl")
	want := []string{"/opt/probe/bin/probe", "-H", "X-A: 1", "-H", "X-B: 2", "-L", "-o", out, "--format=jsonl"}
	if !reflect.DeepEqual(cmd.Argv, want) || cmd.OutputFile != out || string(cmd.Stdin) != "http://127.0.0.1:8080/\n" {
		t.Fatalf("command = %+v", cmd)
	}
	if cmd.Display != `/opt/probe/bin/probe -H '[REDACTED]' -H '[REDACTED]' -L -o `+out+` --format=jsonl` {
		t.Errorf("display = %s", cmd.Display)
	}
	if _, err := d.Build(Invocation{Targets: []string{"http://127.0.0.1/", "http://127.0.0.2/"}, Dir: dir}); err == nil {
		t.Error("single_target tool accepted two targets")
	}
	data := `{"u":"http://127.0.0.1:8080/","code":301,"meta":{"title":"Moved"},"tech":["nginx:1.25","PHP"],"labels":"a, b,,c"}` + "\n"
	if err := os.WriteFile(out, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fs []finding.Finding
	if _, err := ParseOutput(d, &ParseContext{}, f, func(fd finding.Finding) { fs = append(fs, fd) }); err != nil {
		t.Fatal(err)
	}
	assertCustomFindings(t, fs, []finding.Finding{&finding.URL{
		URL: "http://127.0.0.1:8080/", StatusCode: 301, Title: "Moved",
		Tech: []string{"nginx:1.25", "PHP"}, Tags: []string{"a", "b", "c"},
	}})
}

func TestCustomLinesFormat(t *testing.T) {
	t.Parallel()
	d, err := ParseDefinition("resolve.yaml", []byte(`
name: resolve
binary: resolve
inputs: [host]
output: {format: lines}
findings:
  - type: subdomain
    fields: {host: "{line}", sources: "resolve"}
  - type: url
    fields: {url: "https://{line}/", title: "{{literal}} {line}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	fs, st := parseCustom(t, d, "  www.example.test \r\n\napi.example.test\n")
	if st != (ParseStats{Lines: 3, Findings: 4, Skipped: 1}) {
		t.Errorf("stats = %+v", st)
	}
	assertCustomFindings(t, fs, []finding.Finding{
		&finding.Subdomain{Host: "www.example.test", Sources: []string{"resolve"}},
		&finding.URL{URL: "https://www.example.test/", Title: "{literal} www.example.test"},
		&finding.Subdomain{Host: "api.example.test", Sources: []string{"resolve"}},
		&finding.URL{URL: "https://api.example.test/", Title: "{literal} api.example.test"},
	})
}

// Field values convert to the finding field's Go type; a value that does not
// convert makes the record garbage, and no finding of that record is emitted.
func TestCustomFieldConversion(t *testing.T) {
	t.Parallel()
	d, err := ParseDefinition("conv.yaml", []byte(`
name: conv
binary: conv
inputs: [url]
output: {format: jsonl}
findings:
  - type: url
    fields:
      url: "{url}"
      port: "{port}"
      status_code: "{status}"
      content_length: "{size}"
      time_ms: "{ms}"
      verified: "{ok}"
      tech: "{tech}"
  - type: domain
    when: domain
    fields: {domain: "{domain}", creation_date: "{created}", name_servers: "{ns}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line    string
		want    []finding.Finding
		wantErr string // the record's error; "skip" for ErrSkip
	}{
		{
			line: `{"url":"http://127.0.0.1/","port":"8080","status":200,"size":9007199254740993,"ms":1.5,"ok":true,"tech":"a,b"}`,
			want: []finding.Finding{&finding.URL{URL: "http://127.0.0.1/", Port: 8080, StatusCode: 200,
				ContentLength: 9007199254740993, TimeMS: 1.5, Verified: true, Tech: []string{"a", "b"}}},
		},
		{
			line: `{"url":"http://127.0.0.1/","port":8080.0,"status":"","ok":"false","tech":[]}`,
			want: []finding.Finding{&finding.URL{URL: "http://127.0.0.1/", Port: 8080, Tech: nil}},
		},
		{
			line: `{"url":"http://127.0.0.1/","domain":"example.test","created":"2020-01-02","ns":["ns1.example.test", "ns2.example.test"]}`,
			want: []finding.Finding{
				&finding.URL{URL: "http://127.0.0.1/"},
				&finding.Domain{Domain: "example.test", CreationDate: customTime("2020-01-02T00:00:00Z"),
					NameServers: []string{"ns1.example.test", "ns2.example.test"}},
			},
		},
		{line: `{"url":"http://127.0.0.1/","status":"abc"}`, wantErr: `url finding: field status_code: "abc" is not a whole number`},
		{line: `{"url":"http://127.0.0.1/","status":2.5}`, wantErr: `url finding: field status_code: "2.5" is not a whole number`},
		{line: `{"url":"http://127.0.0.1/","status":1e300}`, wantErr: `url finding: field status_code: "1e300" is not a whole number`},
		{line: `{"url":"http://127.0.0.1/","port":99999999999999999999}`, wantErr: `url finding: field port: "99999999999999999999" is not a whole number`},
		{line: `{"url":"http://127.0.0.1/","ms":"NaN"}`, wantErr: `url finding: field time_ms: "NaN" is not a number`},
		{line: `{"url":"http://127.0.0.1/","ok":"maybe"}`, wantErr: `url finding: field verified: "maybe" is not true or false`},
		{line: `{"url":{"nested":true}}`, want: []finding.Finding{&finding.URL{URL: `{"nested":true}`}}},
		// The url is fine, the domain's date is not: nothing is emitted.
		{line: `{"url":"http://127.0.0.1/","domain":"example.test","created":"yesterday"}`, wantErr: `domain finding: field creation_date: "yesterday" is not a date`},
		{line: `{"status":200}`, wantErr: `url finding: no value for url`},
		{line: `{"url":null}`, wantErr: `url finding: no value for url`},
		{line: `{"url":"x"} trailing`, wantErr: `trailing data after the JSON object`},
		{line: `not json`, wantErr: errNotJSON.Error()},
		{line: `   `, wantErr: "skip"},
	}
	for _, tt := range tests {
		var got []finding.Finding
		err := d.Parse.Line(&ParseContext{}, []byte(tt.line), func(f finding.Finding) { got = append(got, f) })
		switch {
		case tt.wantErr == "skip":
			if !errors.Is(err, ErrSkip) {
				t.Errorf("%s: err = %v, want ErrSkip", tt.line, err)
			}
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: err = %v, want %s", tt.line, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.line, err)
		}
		if tt.wantErr != "" && len(got) > 0 {
			t.Errorf("%s: emitted %d findings with an error", tt.line, len(got))
		}
		if tt.wantErr == "" {
			assertCustomFindings(t, got, tt.want)
		}
	}
}

func TestCustomDefinitionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{
			name: "unknown finding field",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output:
  format: regex
  regex: '^(?P<url>\S+) \[(?P<status>\d+)\]$'
findings:
  - type: url
    fields:
      url: "{url}"
      stauts: "{status}"
`,
			want: `mytool.yaml:11:7: unknown finding field "stauts" for type url (did you mean status_code?)`,
		},
		{
			name: "missing required keys",
			yaml: "description: no name\n",
			want: `mytool.yaml:1:1: missing required key "name"
mytool.yaml:1:1: missing required key "binary"
mytool.yaml:1:1: missing required key "inputs"
mytool.yaml:1:1: missing required key "output"
mytool.yaml:1:1: missing required key "findings"`,
		},
		{
			name: "name binary inputs mode",
			yaml: `name: My Tool
binary: -x
inputs: [uri, url, url]
input: {mode: files}
single_target: yes
output: {format: jsonl}
findings: []
`,
			want: `mytool.yaml:1:7: invalid name "My Tool": use lower-case letters, digits, "_" and "-", starting with a letter or digit (at most 64)
mytool.yaml:2:9: binary "-x" starts with "-"
mytool.yaml:3:10: unknown input type "uri" (did you mean url?)
mytool.yaml:3:20: duplicate input type "url"
mytool.yaml:4:15: invalid input mode "files" (did you mean file?)
mytool.yaml:5:16: single_target: want true or false, got "yes"
mytool.yaml:7:11: findings is empty: map the output to at least one finding`,
		},
		{
			name: "relative binary, empty inputs, flag mode without flag, json format",
			yaml: `name: mytool
binary: bin/mytool
inputs: []
input: {mode: flag}
fixed: [-json, "{file}"]
output: {format: json}
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: `mytool.yaml:2:9: binary "bin/mytool" must be a name on PATH or an absolute path
mytool.yaml:3:9: inputs is empty: list the target types the tool accepts
mytool.yaml:4:8: input mode flag needs a flag
mytool.yaml:5:16: fixed: "{file}" is only replaced in output.file
mytool.yaml:6:18: output format "json" is not supported for custom tools (want jsonl, regex or lines)`,
		},
		{
			name: "unknown keys and unified options",
			yaml: `name: mytool
binry: mytool
inputs: [url]
input: {mode: arg, flag: -u}
options:
  thread: -t
  severity: {flag: -s}
  timeout: {flag: -timeout, unit: sec}
  threads: {flag: -t, unit: s}
  header: {flag: -H, join: ","}
  retries: {}
  delay: {flg: -d}
output: {format: jsonl}
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: `mytool.yaml:1:1: missing required key "binary"
mytool.yaml:2:1: unknown key "binry" (did you mean binary?)
mytool.yaml:4:20: input.flag is only used with mode flag or file
mytool.yaml:6:3: unknown unified option "thread" (did you mean threads?)
mytool.yaml:7:3: unknown unified option "severity" (declare tool-specific options under extra_options)
mytool.yaml:8:35: invalid unit "sec" for option timeout (want s, ms or go)
mytool.yaml:9:23: options.threads: unit applies only to duration options
mytool.yaml:11:12: options.retries: missing required key "flag"
mytool.yaml:12:10: options.delay: missing required key "flag"
mytool.yaml:12:11: unknown key "flg" in options.delay (did you mean flag?)`,
		},
		{
			name: "extra options",
			yaml: `name: mytool
binary: mytool
inputs: [url]
extra_options:
  - {name: severity, kind: strng, flag: -severity}
  - {name: threads, flag: -t}
  - {name: Bad Name, flag: -b}
  - {name: depth2, kind: int, flag: -d, default: abc}
  - {name: severity, flag: -s}
  - {name: tags, kind: list, flag: -tags, join: ",", unit: s}
  - {name: nf, kind: int}
  - {kind: int, flag: -x}
  - {name: task_timeout, flag: -T}
output: {format: jsonl}
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: `mytool.yaml:5:28: invalid option kind "strng" (did you mean string?)
mytool.yaml:6:12: extra option "threads" is a unified option: map it under options
mytool.yaml:7:12: invalid option name "Bad Name": use lower-case letters, digits, "_" and "-", starting with a letter
mytool.yaml:8:50: invalid default: option depth2: "abc" is not a whole number
mytool.yaml:9:12: duplicate extra option "severity"
mytool.yaml:10:54: extra_options[5]: unit applies only to duration options
mytool.yaml:11:5: extra_options[6]: missing required key "flag"
mytool.yaml:12:5: extra_options[7]: missing required key "name"
mytool.yaml:13:12: extra option "task_timeout" clashes with sortie's own flag --task-timeout; choose another name`,
		},
		{
			name: "bad regex",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output:
  format: regex
  regex: '^(?P<url>\S+'
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: "mytool.yaml:6:10: invalid output regex: error parsing regexp: missing closing ): `^(?P<url>\\S+`",
		},
		{
			name: "regex without named groups",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output:
  format: regex
  regex: '^(\S+) (\d+)$'
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: `mytool.yaml:6:10: output regex has no named groups: name what you capture, as in (?P<url>\S+)`,
		},
		{
			name: "regex format without regex",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output:
  format: regex
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: `mytool.yaml:5:3: output: format regex needs a regex`,
		},
		{
			name: "regex with another format, file without {file}",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output:
  format: jsonl
  regex: '(?P<x>.)'
  file: [-o, out.json]
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: `mytool.yaml:6:3: output.regex is only used with format regex
mytool.yaml:7:9: output.file must contain "{file}" where the tool gets the output path`,
		},
		{
			name: "invalid format",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output: {format: jsonlines}
findings: [{type: url, fields: {url: "{url}"}}]
`,
			want: `mytool.yaml:4:18: invalid output format "jsonlines" (want jsonl, regex or lines)`,
		},
		{
			name: "finding mappings",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output:
  format: regex
  regex: '^(?P<url>\S+) (?P<status>\d+)$'
findings:
  - type: urll
    fields: {url: "{url}"}
  - type: url
    when: stat
    fields:
      url: "{url} {stat}"
      status_code: "{status"
      title: "x}"
      words: "{}"
      extra_data: "{url}"
  - type: port
    fields: {port: "{status}"}
  - type: url
    when: "{url}"
  - type: vulnerability
    fields: {}
    severity: high
`,
			want: `mytool.yaml:8:11: unknown finding type "urll" (did you mean url?)
mytool.yaml:11:11: when "stat": the output regex has no group "stat" (groups: url, status)
mytool.yaml:13:12: field url: template "{url} {stat}": the output regex has no group "stat" (groups: url, status)
mytool.yaml:14:20: field status_code: template "{status": unclosed "{" (write "{{" for a literal brace)
mytool.yaml:15:14: field title: template "x}": unmatched "}" (write "}}" for a literal brace)
mytool.yaml:16:14: field words: template "{}": empty placeholder "{}"
mytool.yaml:17:7: finding field "extra_data" of type url cannot be set from a template
mytool.yaml:19:5: finding type port needs field ip or host
mytool.yaml:20:5: findings[3]: missing required key "fields"
mytool.yaml:21:11: when: write the key without braces ("url")
mytool.yaml:23:13: fields is empty
mytool.yaml:24:5: unknown key "severity" in findings[4] (valid keys: type, when, fields)`,
		},
		{
			name: "unknown finding type without a close match",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output: {format: jsonl}
findings: [{type: stat, fields: {name: x}}]
`,
			want: `mytool.yaml:5:19: unknown finding type "stat" (valid: url, port, ip, subdomain, domain, record, vulnerability, technology, tag, exploit, certificate, user_account)`,
		},
		{
			name: "lines format placeholders",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output: {format: lines}
findings:
  - type: subdomain
    fields: {host: "{line}", domain: "{domain}"}
`,
			want: `mytool.yaml:7:38: field domain: template "{domain}": format lines has only {line}, not {domain}`,
		},
		{
			name: "exit codes, version, install",
			yaml: `name: mytool
binary: mytool
inputs: [url]
output: {format: jsonl}
findings:
  - type: url
    fields: {url: "{a..b}"}
ok_exit_codes: [1, 0, 256, x]
version: {args: [-v], regex: 'v[0-9.]+'}
install: {go: {module: github.com/x/y, version: latest}, apt: [Bad_Name]}
`,
			want: `mytool.yaml:7:19: field url: template "{a..b}": invalid key "a..b" (use name or parent.child)
mytool.yaml:8:20: ok_exit_codes: "0" is not an exit code (1 to 255)
mytool.yaml:8:23: ok_exit_codes: "256" is not an exit code (1 to 255)
mytool.yaml:8:28: ok_exit_codes: "x" is not an exit code (1 to 255)
mytool.yaml:9:30: version regex needs a group around the version, as in v([0-9.]+)
mytool.yaml:10:10: install needs exactly one of go or apt
mytool.yaml:10:49: install.go: version "latest" is not an exact version like v1.2.3 (installs are pinned)
mytool.yaml:10:64: install.apt: invalid Debian package name "Bad_Name"`,
		},
		{
			name: "wrong shapes",
			yaml: `name: mytool
binary: mytool
inputs: url
output: jsonl
findings: {type: url}
version: {regex: '('}
install: {go: {module: -x, version: v1.0.0, package: -p, env: [FOO]}}
`,
			want: `mytool.yaml:3:9: inputs: want a list, got a string
mytool.yaml:4:9: output: want a mapping, got a string
mytool.yaml:5:11: findings: want a list, got a mapping
mytool.yaml:6:10: version: missing required key "args"
mytool.yaml:6:18: invalid version regex: error parsing regexp: missing closing ): ` + "`(`" + `
mytool.yaml:7:24: install.go: invalid module path "-x"
mytool.yaml:7:54: install.go: invalid package "-p" (use . or ./cmd/name)
mytool.yaml:7:64: install.go.env: "FOO" is not NAME=value`,
		},
		{
			name: "duplicate key and alias",
			yaml: "name: &n mytool\nname: other\nbinary: *n\ninputs: [url]\noutput: {format: lines}\nfindings: [{type: url, fields: {url: \"{line}\"}}]\n",
			want: `mytool.yaml:2:1: duplicate key "name" (first at line 1)
mytool.yaml:3:9: binary: YAML aliases are not supported`,
		},
		{
			name: "YAML syntax",
			yaml: "name: mytool\n  binary: x\n",
			want: `mytool.yaml:2: invalid YAML: mapping values are not allowed in this context`,
		},
		{
			name: "not a mapping",
			yaml: "- name: mytool\n",
			want: `mytool.yaml:1:1: a tool definition is a mapping (name: ..., binary: ...), got a list`,
		},
		{
			name: "empty",
			yaml: "# nothing yet\n",
			want: `mytool.yaml: empty file: no tool definition`,
		},
		{
			name: "two documents",
			yaml: "name: a\n---\nname: b\n",
			want: `mytool.yaml:2:1: only one tool per file (found a second YAML document)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDefinition("mytool.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error; definition %+v", d)
			}
			if d != nil {
				t.Errorf("a definition came back with the error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			var de *DefinitionError
			if !errors.As(err, &de) || de.File != "mytool.yaml" {
				t.Errorf("errors.As(*DefinitionError) = %v", de)
			}
		})
	}
}

func TestCustomLoadDir(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, dir, name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const lines = "binary: x\ninputs: [host]\noutput: {format: lines}\nfindings: [{type: subdomain, fields: {host: \"{line}\"}}]\n"

	t.Run("testdata", func(t *testing.T) {
		t.Parallel()
		r := NewRegistry()
		n := len(r.All())
		if err := LoadDir(r, filepath.Join("testdata", "custom")); err != nil {
			t.Fatal(err)
		}
		if len(r.All()) != n+2 {
			t.Errorf("%d tools after loading, want %d", len(r.All()), n+2)
		}
		for _, name := range []string{"tlsx", "masscan"} {
			if _, err := r.Get(name); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("clash with a built-in tool", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "myhttpx.yml", "name: httpx\n"+lines)
		r := NewRegistry()
		before, _ := r.Lookup("httpx")
		err := loadDirBroken(t, r, dir)
		want := filepath.Join(dir, "myhttpx.yml") + `:1:7: tool name "httpx" clashes with the built-in tool httpx; choose another name`
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		if after, _ := r.Lookup("httpx"); after != before {
			t.Error("the built-in httpx was replaced")
		}
	})
	t.Run("two files, one name; every file's problems; the good tools added", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "a.yaml", "name: dup\n"+lines)
		write(t, dir, "b.yaml", "name: dup\n"+lines)
		write(t, dir, "c.yaml", "name: ok\n"+lines)
		write(t, dir, "d.yaml", "name: bad\nbinary: x\n")
		write(t, dir, "notes.txt", "not a tool")
		write(t, dir, ".e.yaml", "editor backup")
		if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700); err != nil {
			t.Fatal(err)
		}
		r := NewRegistry()
		err := loadDirBroken(t, r, dir)
		want := strings.Join([]string{
			filepath.Join(dir, "b.yaml") + `:1:7: tool "dup" is already defined in ` + filepath.Join(dir, "a.yaml"),
			filepath.Join(dir, "d.yaml") + `:1:1: missing required key "inputs"`,
			filepath.Join(dir, "d.yaml") + `:1:1: missing required key "output"`,
			filepath.Join(dir, "d.yaml") + `:1:1: missing required key "findings"`,
		}, "\n")
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		for _, name := range []string{"ok", "dup"} {
			if _, err := r.Get(name); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		var be *BrokenToolError
		if _, err := r.Get("bad"); !errors.As(err, &be) || be.File != filepath.Join(dir, "d.yaml") {
			t.Errorf("Get(bad) = %v, want a *BrokenToolError for d.yaml", err)
		}
	})
	t.Run("a file that is not YAML is named by its file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "broken.yaml", "name: [\n")
		write(t, dir, "fine.yaml", "name: fine\n"+lines)
		r := NewRegistry()
		err := loadDirBroken(t, r, dir)
		want := filepath.Join(dir, "broken.yaml") + ":1: invalid YAML: did not find expected node content"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		if _, err := r.Get("fine"); err != nil {
			t.Error(err)
		}
		_, err = r.Get("broken")
		if want := "tool \"broken\" is disabled: its definition does not load:\n  " + want; err == nil || err.Error() != want {
			t.Errorf("Get(broken) = %v\nwant %s", err, want)
		}
	})
	t.Run("LoadFile of a missing file", func(t *testing.T) {
		t.Parallel()
		if _, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("file too large", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, dir, "big.yaml", "name: big\n"+lines+"description: "+strings.Repeat("x", maxDefinitionSize)+"\n")
		err := loadDirBroken(t, NewRegistry(), dir)
		want := filepath.Join(dir, "big.yaml") + ": file is larger than 1048576 bytes"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		t.Parallel()
		err := LoadDir(NewRegistry(), filepath.Join(t.TempDir(), "nope"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
}

// loadDirBroken loads dir into r and returns the problems of its broken
// tools, joined.
func loadDirBroken(t *testing.T, r *Registry, dir string) error {
	t.Helper()
	if err := LoadDir(r, dir); err != nil {
		t.Fatal(err)
	}
	var errs []error
	for _, b := range r.Broken() {
		errs = append(errs, b.Err)
	}
	return errors.Join(errs...)
}

func ExampleParseDefinition() {
	d, err := ParseDefinition("resolve.yaml", []byte(`
name: resolve
binary: resolve
inputs: [host]
input: {mode: flag, flag: -d}
fixed: [-silent]
options:
  threads: -t
output:
  format: regex
  regex: '^(?P<host>\S+) has address (?P<ip>\S+)$'
findings:
  - type: ip
    fields: {ip: "{ip}", host: "{host}"}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	cmd, err := d.Build(Invocation{Targets: []string{"localhost"}, Options: map[string][]string{"threads": {"4"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cmd.Display)
	_ = d.Parse.Line(&ParseContext{}, []byte("localhost has address 127.0.0.1"), func(f finding.Finding) {
		ip := f.(*finding.IP)
		fmt.Println(f.Kind(), ip.IP, ip.Host)
	})
	// Output:
	// resolve -t 4 -silent -d localhost
	// ip 127.0.0.1 localhost
}

// FuzzParseDefinition: loading never panics, and a definition that loads
// builds commands and parses lines without panicking.
func FuzzParseDefinition(f *testing.F) {
	defs, _ := filepath.Glob(filepath.Join("testdata", "custom", "*.yaml"))
	for _, file := range defs {
		def, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		outs, _ := filepath.Glob(strings.TrimSuffix(file, ".yaml") + ".*")
		for _, o := range outs {
			if o == file {
				continue
			}
			out, err := os.ReadFile(o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(def, out)
		}
	}
	f.Add([]byte("name: x\nbinary: x\ninputs: [url]\noutput: {format: regex, regex: '(?P<a>.)(?P<b>.)?'}\nfindings: [{type: url, when: b, fields: {url: \"{a}{{}}{b}\", port: \"{b}\"}}]\n"), []byte("x\nxy\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, def, output []byte) {
		d, err := ParseDefinition("fuzz.yaml", def)
		if err != nil {
			if d != nil {
				t.Fatal("definition and error")
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if d.Name == "" || d.Binary == "" || len(d.Inputs) == 0 || d.Parse.Line == nil {
			t.Fatalf("incomplete definition %+v", d)
		}
		_, _ = d.Build(Invocation{Targets: []string{"127.0.0.1"}, Dir: dir})
		for _, line := range strings.Split(string(output), "\n") {
			_ = d.Parse.Line(&ParseContext{}, []byte(line), func(fd finding.Finding) {
				finding.Stamp(fd, finding.Scope{Run: "fuzz"}, time.Unix(0, 0))
			})
		}
	})
}
