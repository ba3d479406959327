// Package integration holds sortie's integration tests: every built-in tool is
// run for real, through "sortie x" (cli.Main in process), against targets the
// tests start themselves on loopback — the test web site of package
// testtarget, a dnsmasq DNS server, an OpenSSH server, a WHOIS responder, a
// mock of the archives and subdomain sources behind a proxy, git repositories
// holding a fake AWS key — and the findings the run leaves in its run
// directory (findings.jsonl, run.json) are checked field by field.
//
// The package has no code of its own; it is all in _test.go files.
//
// Running. The tests send traffic to 127.0.0.1 only. scripts/test runs them
// as root inside a loopback-only network namespace, so that nothing a tool
// tries can leave the machine; run them the same way by hand:
//
//	unshare -n -- sh -c 'ip link set lo up && go test -race -count=1 ./internal/integration/'
//
// A test whose tool (or service: dnsmasq, sshd, git) is not installed is
// skipped, unless SORTIE_INTEGRATION=1, in which case it fails and names the
// install command. "go test -short" skips the whole package. Tools are looked
// up where "sortie x" looks for them ($XDG_DATA_HOME/sortie/bin, then PATH),
// so the tests never change XDG_DATA_HOME; every run writes to its own
// t.TempDir() with --out.
package integration
