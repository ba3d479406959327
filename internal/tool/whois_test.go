package tool

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestWhoisParse(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"whois.txt", "whois-go.json"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			fs, st := parseFixture(t, "whois", file, "test.local")
			if st.Garbage != 0 {
				t.Fatalf("garbage: %v", st.FirstError)
			}
			domains := only[*finding.Domain](fs)
			if len(domains) != 1 || len(fs) != 1 {
				t.Fatalf("findings = %d, domains = %d, want 1", len(fs), len(domains))
			}
			d := domains[0]
			created := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			expires := time.Date(2030, 2, 3, 4, 5, 6, 0, time.UTC)
			if d.Domain != "test.local" || d.Registrar != "Example Registrar, Inc." || d.Registrant != "" ||
				d.CreationDate == nil || !d.CreationDate.Equal(created) ||
				d.ExpirationDate == nil || !d.ExpirationDate.Equal(expires) || d.UpdatedDate != nil ||
				!slices.Equal(d.NameServers, []string{"ns1.test.local", "ns2.test.local"}) ||
				!slices.Equal(d.Emails, []string{"admin@test.local"}) || len(d.Status) != 0 ||
				d.ExtraData["registry_domain_id"] != "123_DOMAIN_TEST" {
				t.Errorf("domain = %+v", d)
			}
		})
	}
}

// A registry answer followed by the registrar's, as whois prints it when it
// follows the referral. Written after Verisign's and a registrar's format.
const whoisThick = `
   Domain Name: EXAMPLE.COM
   Registry Domain ID: 2336799_DOMAIN_COM-VRSN
   Registrar WHOIS Server: whois.registrar.test
   Updated Date: 2024-08-14T07:01:34Z
   Creation Date: 1995-08-14T04:00:00Z
   Registry Expiry Date: 2025-08-13T04:00:00Z
   Registrar: RESERVED-Internet Assigned Numbers Authority
   Domain Status: clientDeleteProhibited https://icann.org/epp#clientDeleteProhibited
   Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited
   Name Server: A.IANA-SERVERS.NET
   Name Server: B.IANA-SERVERS.NET
   DNSSEC: signedDelegation
>>> Last update of whois database: 2024-11-28T10:00:00Z <<<

Domain Name: example.com
Updated Date: 2024-08-14T07:01:34+0000
Creation Date: 1995-08-14T04:00:00+0000
Registrar Registration Expiration Date: 2025-08-13T04:00:00+0000
Registrar: Example Registrar LLC
Registrar Abuse Contact Email: Abuse@Registrar.test
Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited
Domain Status: serverHold https://icann.org/epp#serverHold
Registrant Name: REDACTED FOR PRIVACY
Registrant Organization: Internet Assigned Numbers Authority
Registrant Email: Please query the RDDS service of the Registrar of Record identified in this output for information on how to contact the Registrant
Admin Email: hostmaster@example.com
Name Server: a.iana-servers.net.
Name Server: c.iana-servers.net
`

func TestWhoisParseRegistryAndRegistrar(t *testing.T) {
	t.Parallel()
	var fs []finding.Finding
	if err := parseWhois(&ParseContext{Targets: []string{"example.com"}}, []byte(whoisThick), func(f finding.Finding) { fs = append(fs, f) }); err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("findings = %d, want 1", len(fs))
	}
	d := fs[0].(*finding.Domain)
	d.Normalize()
	if d.Domain != "example.com" || d.Registrar != "RESERVED-Internet Assigned Numbers Authority" ||
		d.Registrant != "Internet Assigned Numbers Authority" ||
		!d.CreationDate.Equal(time.Date(1995, 8, 14, 4, 0, 0, 0, time.UTC)) ||
		!d.UpdatedDate.Equal(time.Date(2024, 8, 14, 7, 1, 34, 0, time.UTC)) ||
		!d.ExpirationDate.Equal(time.Date(2025, 8, 13, 4, 0, 0, 0, time.UTC)) ||
		!slices.Equal(d.NameServers, []string{"a.iana-servers.net", "b.iana-servers.net", "c.iana-servers.net"}) ||
		!slices.Equal(d.Status, []string{"clientDeleteProhibited", "clientTransferProhibited", "serverHold"}) ||
		!slices.Equal(d.Emails, []string{"abuse@registrar.test", "hostmaster@example.com"}) ||
		d.ExtraData["dnssec"] != "signedDelegation" {
		t.Errorf("domain = %+v", d)
	}
}

func TestWhoisParseNoMatch(t *testing.T) {
	t.Parallel()
	for _, out := range []string{
		"No match for \"NOMATCH.LOCAL\".\n>>> Last update of whois database: 2026-11-28T00:00:00Z <<<\n",
		"Domain: nomatch.de\nStatus: free\n",
		"",
	} {
		var n int
		if err := parseWhois(&ParseContext{Targets: []string{"nomatch.local"}}, []byte(out), func(finding.Finding) { n++ }); err != nil || n != 0 {
			t.Errorf("%q: err %v, %d findings", out, err, n)
		}
	}
	for _, out := range []string{"\xff\xfe binary", `{"domain": 3}`, `{"registrar": {}}`} {
		if err := parseWhois(&ParseContext{}, []byte(out), func(finding.Finding) {}); err == nil {
			t.Errorf("%q: no error", out)
		}
	}
}

func TestWhoisBuild(t *testing.T) {
	t.Parallel()
	cmd, err := whoisTool().Build(Invocation{
		Targets: []string{"test.local"},
		Options: map[string][]string{"server": {"127.0.0.1"}, "port": {"4343"}},
		Dir:     t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"whois", "-h", "127.0.0.1", "-p", "4343", "-H", "test.local"}; !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv = %q, want %q", cmd.Argv, want)
	}
}

func FuzzParseWhois(f *testing.F) {
	for _, name := range []string{"whois.txt", "whois-go.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(whoisThick))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseWhois(&ParseContext{Targets: []string{"test.local"}}, data, checkFuzzFinding(t))
	})
}

func TestWhoisVersion(t *testing.T) {
	t.Parallel()
	checkToolVersion(t, whoisTool(), "Version 5.5.17.\n\nReport bugs to <md+whois@linux.it>.\n", "5.5.17")
}
