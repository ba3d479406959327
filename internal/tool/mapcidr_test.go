package tool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestMapcidrParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "mapcidr", "mapcidr.txt")
	if st.Garbage != 0 || st.Lines != 8 {
		t.Fatalf("stats = %+v", st)
	}
	ips := only[*finding.IP](fs)
	if len(ips) != 8 || uniqueIDs(fs) != 8 {
		t.Fatalf("ips = %d (%d ids), want 8", len(ips), uniqueIDs(fs))
	}
	if ip := ips[7]; ip.IP != "127.0.0.7" || ip.Protocol != "ipv4" || ip.Alive || ip.Host != "" {
		t.Errorf("last ip = %+v", ip)
	}
	old, st := parseFixture(t, "mapcidr", "secator_mapcidr_output.txt")
	if st.Garbage != 0 || len(only[*finding.IP](old)) != 25 {
		t.Fatalf("secator capture: %d findings, stats %+v", len(old), st)
	}
	if ip := only[*finding.IP](old)[24]; ip.IP != "192.168.7.24" {
		t.Errorf("secator last ip = %+v", ip)
	}
}

func TestMapcidrLines(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("mapcidr")
	var got []*finding.IP
	emit := func(f finding.Finding) { got = append(got, f.(*finding.IP)) }
	if err := d.Parse.Line(&ParseContext{}, []byte("2001:db8::1\r"), emit); err != nil || len(got) != 1 ||
		got[0].IP != "2001:db8::1" {
		t.Errorf("ipv6 line: %v %+v", err, got)
	}
	for line, want := range map[string]error{
		"":                  ErrSkip,
		"10.0.0.0/30":       ErrSkip, // aggregated output: valid, not an address
		"[INF] Current Ver": errMapcidrNotIP,
		"10.0.0.256":        errMapcidrNotIP,
	} {
		if err := d.Parse.Line(&ParseContext{}, []byte(line), emit); !errors.Is(err, want) {
			t.Errorf("%q: error %v, want %v", line, err, want)
		}
	}
	if len(got) != 1 {
		t.Errorf("findings = %+v", got)
	}
}

func TestMapcidrBuild(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("mapcidr")
	dir := t.TempDir()
	cmd, err := d.Build(Invocation{
		Targets: []string{"127.0.0.0/29", "10.0.0.1"},
		Options: map[string][]string{"skip_base": {"true"}, "filter_ip": {"127.0.0.1", "127.0.0.2"}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mapcidr", "-skip-base", "-fi", "127.0.0.1,127.0.0.2", "-silent", "-duc",
		"-cidr", filepath.Join(dir, "targets.txt")}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
	}
}

func FuzzParseMapcidr(f *testing.F) {
	for _, file := range []string{"mapcidr.txt", "secator_mapcidr_output.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			f.Add([]byte(l))
		}
	}
	f.Add([]byte("fe80::1%eth0"))
	f.Fuzz(func(t *testing.T, line []byte) {
		_ = parseMapcidrLine(&ParseContext{}, line, fuzzEmitWellFormed(t))
	})
}
