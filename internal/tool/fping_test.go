package tool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestFpingParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "fping", "fping.txt")
	if st.Garbage != 0 || st.Skipped != 0 {
		t.Fatalf("garbage %d, skipped %d (%v)", st.Garbage, st.Skipped, st.FirstError)
	}
	ips := only[*finding.IP](fs)
	var got []string
	for _, ip := range ips {
		if !ip.Alive || ip.Protocol != "ipv4" || ip.Host != "" {
			t.Errorf("ip = %+v", ip)
		}
		got = append(got, ip.IP)
	}
	if want := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}; !slices.Equal(got, want) || len(fs) != 3 {
		t.Errorf("alive = %v, want %v", got, want)
	}
}

func TestFpingParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "fping", "secator_fping_output.txt")
	if st.Garbage != 0 {
		t.Fatalf("garbage %d (%v)", st.Garbage, st.FirstError)
	}
	ips := only[*finding.IP](fs)
	if len(ips) != 1 || ips[0].IP != "192.168.1.18" || !ips[0].Alive || ips[0].Protocol != "ipv4" {
		t.Errorf("ips = %+v", ips)
	}
}

// The line shapes fping 5.1 prints with the flags users may add; the
// output was captured on this machine.
func TestFpingParseLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		line, ip, host string
		err            error // nil: a finding; ErrSkip; errGarbage: any other error
	}{
		{line: "127.0.0.1", ip: "127.0.0.1"},
		{line: "::1", ip: "::1"},
		{line: "localhost (127.0.0.1)", ip: "127.0.0.1", host: "localhost"},
		{line: "127.0.0.2 (127.0.0.2)", ip: "127.0.0.2"},
		{line: "127.0.0.1 (0.041 ms)", ip: "127.0.0.1"},
		{line: "127.0.0.1 is alive", ip: "127.0.0.1"},
		{line: "::1 (::1) is alive (0.05 ms)", ip: "::1"},
		{line: "127.0.0.9 is unreachable", err: ErrSkip},
		{line: "localhost", err: ErrSkip},
		{line: "   ", err: ErrSkip},
		{line: "ICMP Host Unreachable from 10.0.0.1 for ICMP Echo sent to 10.0.0.2", err: errGarbageFping},
		{line: "host (not-an-ip)", err: errGarbageFping},
		{line: "{\"ip\": \"1.2.3.4\"}", err: errGarbageFping},
	}
	for _, c := range cases {
		var got []*finding.IP
		err := parseFpingLine(&ParseContext{}, []byte(c.line), func(f finding.Finding) { got = append(got, f.(*finding.IP)) })
		switch {
		case c.err == nil:
			if err != nil || len(got) != 1 || got[0].IP != c.ip || got[0].Host != c.host || !got[0].Alive {
				t.Errorf("%q: err %v, findings %+v", c.line, err, got)
			}
		case c.err == ErrSkip:
			if !errors.Is(err, ErrSkip) || len(got) != 0 {
				t.Errorf("%q: err %v, findings %d, want skipped", c.line, err, len(got))
			}
		default:
			if err == nil || errors.Is(err, ErrSkip) || len(got) != 0 {
				t.Errorf("%q: err %v, findings %d, want garbage", c.line, err, len(got))
			}
		}
	}
}

var errGarbageFping = errors.New("garbage")

func TestFpingBuild(t *testing.T) {
	t.Parallel()
	d := fpingTool()
	cmd, err := d.Build(Invocation{
		Targets: []string{"127.0.0.1", "localhost"},
		Options: map[string][]string{"timeout": {"200ms"}, "delay": {"10ms"}},
		Dir:     t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"fping", "-t", "200", "-i", "10", "-a", "-A", "-r", "1"}; !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv = %q, want %q", cmd.Argv, want)
	}
	if string(cmd.Stdin) != "127.0.0.1\nlocalhost\n" {
		t.Errorf("stdin = %q", cmd.Stdin)
	}
	if !d.OKExit(1) || !d.OKExit(2) || d.OKExit(3) || d.OKExit(4) {
		t.Error("exit codes: 1 and 2 are normal, 3 and 4 are not")
	}
}

func FuzzParseFping(f *testing.F) {
	for _, name := range []string{"fping.txt", "secator_fping_output.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("localhost (127.0.0.1) is alive (0.05 ms)"))
	f.Fuzz(func(t *testing.T, line []byte) {
		_ = parseFpingLine(&ParseContext{}, line, checkFuzzFinding(t))
	})
}

func TestFpingVersion(t *testing.T) {
	t.Parallel()
	checkToolVersion(t, fpingTool(), "fping: Version 5.1\n", "5.1")
}
