package tool

import (
	"strings"
	"testing"
)

// An invalid value of a sensitive option is never echoed in the error,
// whatever the option's kind; other options still show theirs.
func TestInvalidSensitiveValueNotEchoed(t *testing.T) {
	t.Parallel()
	d, err := ParseDefinition("secretive.yaml", []byte(`name: secretive
binary: cat
inputs: [url]
input: {mode: stdin}
options: {header: -H, proxy: -x, threads: -t}
extra_options:
  - {name: pin, kind: int, flag: --pin, help: "a PIN", sensitive: true}
  - {name: session_ttl, kind: duration, flag: --ttl, help: "token lifetime", sensitive: true}
output: {format: lines}
findings:
  - type: url
    fields: {url: "{line}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"pin":         "s3cr3t-pin",
		"session_ttl": "s3cr3t-ttl",
		"header":      "-Authorization: Bearer s3cr3t",
		"proxy":       "http://u:s3cr3t@127.0.0.1:1\x01",
	} {
		err := d.CheckOptions(map[string][]string{name: {value}})
		if err == nil {
			t.Errorf("%s %q accepted", name, value)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "option "+name) {
			t.Errorf("%s: error %q echoes the value or does not name the option", name, err)
		}
		if _, err := d.Build(Invocation{Targets: []string{"http://127.0.0.1/"}, Options: map[string][]string{name: {value}}, Dir: t.TempDir()}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: Build error %v", name, err)
		}
	}
	if err := d.CheckOptions(map[string][]string{"threads": {"many"}}); err == nil || !strings.Contains(err.Error(), `"many"`) {
		t.Errorf("a plain option's error should show its value: %v", err)
	}
}

// The displayed command hides a sensitive argument whole, even one too
// short to be searched for in free text, and masks secrets inside others.
func TestDisplayHidesShortSecrets(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("nuclei")
	cmd, err := d.Build(Invocation{Targets: []string{"http://127.0.0.1/"}, Dir: t.TempDir(),
		Options: map[string][]string{"header": {"X: 1", "Authorization: Bearer s3cr3t-token"}, "proxy": {"http://u:pw@127.0.0.1:3128"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"X: 1", "s3cr3t", "pw@"} {
		if strings.Contains(cmd.Display, s) {
			t.Errorf("display %q shows %q", cmd.Display, s)
		}
	}
	if got := cmd.Redact(`{"Authorization":"Bearer s3cr3t-token"}`); strings.Contains(got, "s3cr3t") {
		t.Errorf("Redact: %q", got)
	}
}
