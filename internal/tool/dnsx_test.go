package tool

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

// dnsxRecords lists records as "host TYPE name", sorted.
func dnsxRecords(fs []finding.Finding) []string {
	var out []string
	for _, r := range only[*finding.Record](fs) {
		out = append(out, r.Host+" "+r.Type+" "+r.Name)
	}
	sort.Strings(out)
	return out
}

func TestDnsxParse(t *testing.T) {
	t.Parallel()
	hosts := []string{"mail.test.local", "api.test.local", "localhost", "test.local", "www.test.local", "nope.test.local"}
	fs, st := parseFixture(t, "dnsx", "dnsx.jsonl", hosts...)
	// localhost got no answer (REFUSED, no records): skipped, not garbage.
	if st.Garbage != 0 || st.Skipped != 1 {
		t.Fatalf("garbage %d, skipped %d (%v)", st.Garbage, st.Skipped, st.FirstError)
	}
	want := []string{
		"api.test.local A 127.0.0.2",
		"mail.test.local A 127.0.0.1",
		"mail.test.local AAAA ::1",
		"mail.test.local CNAME www.test.local",
		"nope.test.local A 127.0.0.1",
		"test.local A 127.0.0.1",
		"test.local MX mail.test.local",
		"test.local TXT v=spf1 -all",
		"www.test.local A 127.0.0.1",
		"www.test.local AAAA ::1",
	}
	if got := dnsxRecords(fs); !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The targets themselves are not new subdomains.
	if s := only[*finding.Subdomain](fs); len(s) != 0 {
		t.Errorf("subdomains = %d, want 0", len(s))
	}
	ips := only[*finding.IP](fs)
	if len(ips) != 7 || ips[0].IP != "127.0.0.1" || ips[0].Host != "mail.test.local" || ips[0].Protocol != "ipv4" ||
		ips[1].IP != "::1" || ips[1].Protocol != "ipv6" {
		t.Errorf("ips = %d, first %+v", len(ips), ips[0])
	}
}

func TestDnsxParseBruteForce(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "dnsx", "dnsx-brute.jsonl", "test.local")
	if st.Garbage != 0 {
		t.Fatalf("garbage %d (%v)", st.Garbage, st.FirstError)
	}
	subs := only[*finding.Subdomain](fs)
	var names []string
	for _, s := range subs {
		if s.Domain != "test.local" || !s.Verified {
			t.Errorf("subdomain = %+v", s)
		}
		names = append(names, s.Host)
	}
	sort.Strings(names)
	want := []string{"admin.test.local", "api.test.local", "dev.test.local", "mail.test.local", "staging.test.local", "www.test.local"}
	if !slices.Equal(names, want) {
		t.Errorf("subdomains = %v", names)
	}
	if n := len(only[*finding.Record](fs)); n != 7 { // six A and one CNAME
		t.Errorf("records = %d, want 7", n)
	}

	// Imported without targets, resolved names are subdomains too.
	fs, _ = parseFixture(t, "dnsx", "dnsx-brute.jsonl")
	if n := len(only[*finding.Subdomain](fs)); n != 6 {
		t.Errorf("subdomains without targets = %d, want 6", n)
	}
}

func TestDnsxParseSecatorCaptures(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "dnsx", "secator_dnsx_output.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage %d (%v)", st.Garbage, st.FirstError)
	}
	want := []string{
		"example.com A 92.26.117.110",
		"example.com AAAA 2e12:e1c:b2e:14f5:283:31ff:fed9:5683",
		"example.com SOA ddns-ns1.quickconnect.to",
	}
	if got := dnsxRecords(fs); !slices.Equal(got, want) {
		t.Errorf("records = %q", got)
	}
	for _, r := range only[*finding.Record](fs) {
		if r.Type == "SOA" && r.ExtraData["mailbox"] != "example.com" {
			t.Errorf("soa = %+v", r)
		}
	}
	fs, _ = parseFixture(t, "dnsx", "secator_dnsxbrute_output.json")
	if got := dnsxRecords(fs); !slices.Equal(got, []string{"example.com A 92.26.117.110"}) {
		t.Errorf("brute records = %q", got)
	}
}

func TestDnsxParseSOAObjectsPTRAndAXFR(t *testing.T) {
	t.Parallel()
	fs := feedLinesWith(t, "dnsx", []string{"test.local", "127.0.0.1"},
		`{"host":"test.local","soa":[{"name":"test.local","ns":"ns1.test.local","mailbox":"hostmaster.test.local","serial":42,"refresh":3600}],"axfr":{"host":"test.local","chain":[{"host":"vpn.test.local","a":["10.1.1.1"]},{"host":"test.local","ns":["ns1.test.local"]}]},"status_code":"NOERROR"}`,
		`{"host":"127.0.0.1","ptr":["localhost"],"status_code":"NOERROR"}`,
		`{"host":"gone.test.local","status_code":"NXDOMAIN"}`,
	)
	want := []string{
		"127.0.0.1 PTR localhost",
		"test.local NS ns1.test.local",
		"test.local SOA ns1.test.local",
		"vpn.test.local A 10.1.1.1",
	}
	if got := dnsxRecords(fs); !slices.Equal(got, want) {
		t.Errorf("records = %q", got)
	}
	for _, r := range only[*finding.Record](fs) {
		if r.Type == "SOA" && (r.ExtraData["serial"] != uint32(42) || r.ExtraData["mailbox"] != "hostmaster.test.local") {
			t.Errorf("soa extra = %v", r.ExtraData)
		}
	}
	ips := only[*finding.IP](fs)
	if len(ips) != 2 || ips[0].IP != "10.1.1.1" || ips[1].IP != "127.0.0.1" || ips[1].Host != "localhost" {
		t.Errorf("ips = %+v", ips)
	}
	// vpn.test.local came from the zone transfer: a new subdomain.
	if s := only[*finding.Subdomain](fs); len(s) != 1 || s[0].Host != "vpn.test.local" || s[0].Domain != "test.local" {
		t.Errorf("subdomains = %+v", s)
	}
}

func TestDnsxCommand(t *testing.T) {
	t.Parallel()
	cmd, _ := mustBuildTool(t, "dnsx", []string{"test.local", "www.test.local"}, map[string][]string{
		"resolvers": {"127.0.0.1:53"}, "timeout": {"2s"}, "rate_limit": {"50"},
	})
	wantArgs(t, cmd.Argv, "-a -aaaa -cname -mx -ns -txt", "-r 127.0.0.1:53", "-timeout 2s", "-rl 50",
		"-json -silent -duc -nc -or")
	noArgs(t, cmd.Argv, "-l", "-d", "-w")
	if string(cmd.Stdin) != "test.local\nwww.test.local\n" {
		t.Errorf("stdin = %q", cmd.Stdin)
	}

	// Brute force: the stdin lines become the domains.
	cmd, _ = mustBuildTool(t, "dnsx", []string{"test.local"}, map[string][]string{
		"wordlist": {"/opt/words.txt"}, "record_types": {"a", "cname,bogus", "o=/tmp/x"},
	})
	wantArgs(t, cmd.Argv, "-w /opt/words.txt -d -", "-a -cname")
	for _, a := range cmd.Argv {
		if strings.Contains(a, "bogus") || strings.Contains(a, "/tmp/x") || a == "-aaaa" {
			t.Errorf("argv %q: unknown record type passed on", cmd.Argv)
		}
	}

	cmd, _ = mustBuildTool(t, "dnsx", []string{"test.local"}, map[string][]string{"record_types": {"all"}})
	wantArgs(t, cmd.Argv, "-recon")
}

func TestDnsxVersionRegex(t *testing.T) {
	t.Parallel()
	assertVersionRegex(t, "dnsx", "[INF] Current Version: 1.2.3\n", "1.2.3")
}

func FuzzDnsxLine(f *testing.F) {
	fuzzLineParser(f, "dnsx", "dnsx.jsonl", "dnsx-brute.jsonl")
}
