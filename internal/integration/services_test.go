package integration

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file starts the services the tools are pointed at: a DNS server
// (dnsmasq), an SSH server (OpenSSH), a WHOIS responder and a mock of the
// web archives and subdomain sources behind an HTTP proxy. All listen on
// 127.0.0.1 only and stop when the test ends.

// The zone dnsmasq serves.
const (
	zone    = "test.local"
	spfText = "v=spf1 -all"
)

// startDNS starts dnsmasq on a free port of 127.0.0.1 and returns its
// address ("127.0.0.1:PORT") once it answers. It serves test.local (and
// every name under it) as 127.0.0.1, mail.test.local as 127.0.0.1, an MX
// and a TXT record for test.local, and www.test.local as a CNAME of
// test.local; it knows no other name and forwards nothing.
func startDNS(t *testing.T) string {
	t.Helper()
	bin := needCommand(t, "dnsmasq", "dnsmasq-base")
	port := startService(t, "dnsmasq", func() int { return freeUDPPort(t) }, func(port int) []string {
		return []string{bin, "--no-daemon", "--conf-file=/dev/null", "--pid-file=",
			"--log-facility=-", "--listen-address=127.0.0.1", "--port=" + itoa(port), "--bind-interfaces",
			"--no-resolv", "--no-hosts",
			"--address=/" + zone + "/127.0.0.1",
			"--host-record=mail." + zone + ",127.0.0.1",
			"--mx-host=" + zone + ",mail." + zone + ",10",
			"--txt-record=" + zone + "," + spfText,
			"--cname=www." + zone + "," + zone,
		}
	}, func(port int, exited <-chan struct{}) bool { return dnsReady("127.0.0.1:"+itoa(port), exited) })
	return "127.0.0.1:" + itoa(port)
}

// startService starts a test service on a port from pick, retrying with a
// new port when it does not come up (the free port may be taken between
// probe and bind). ready waits until it answers or exits. The service is
// stopped when the test ends.
func startService(t *testing.T, name string, pick func() int, argv func(port int) []string,
	ready func(port int, exited <-chan struct{}) bool) int {
	t.Helper()
	var lastErr string
	for range 3 {
		port := pick()
		ctx, cancel := context.WithCancel(context.Background())
		args := argv(port)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		var stderr lockedBuffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() { cancel(); <-exited }
		if ready(port, exited) {
			t.Cleanup(stop)
			return port
		}
		stop()
		lastErr = stderr.String()
	}
	t.Fatalf("%s did not start:\n%s", name, lastErr)
	return 0
}

// dnsReady waits until the server at addr resolves mail.test.local, or the
// process exits, or 20 seconds pass.
func dnsReady(addr string, exited <-chan struct{}) bool {
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		ips, err := res.LookupHost(ctx, "mail."+zone)
		cancel()
		if err == nil && len(ips) > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	return false
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// sshServer is a running OpenSSH server.
type sshServer struct {
	Port int
	// HostKeyFingerprint is the SHA256 fingerprint of its ed25519 host key
	// as OpenSSH prints it ("SHA256:" and unpadded base64).
	HostKeyFingerprint string
}

// sshAlgorithms pins what the server offers, so that the audit's verdicts
// are known: one weak key exchange (NIST P-256), one weak MAC (SHA-1, in
// encrypt-and-MAC mode), and sound defaults otherwise.
var sshAlgorithms = []string{
	"KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256",
	"Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com",
	"MACs hmac-sha2-256-etm@openssh.com,hmac-sha1",
	"HostKeyAlgorithms ssh-ed25519",
}

// startSSHD starts sshd on a free port of 127.0.0.1 with a host key made
// for the test and returns once it sends its banner.
func startSSHD(t *testing.T) sshServer {
	t.Helper()
	sshd := "/usr/sbin/sshd" // sshd re-executes itself: it needs its absolute path
	if !isExecutable(sshd) {
		missing(t, sshd, "apt-get install openssh-server")
	}
	keygen := needCommand(t, "ssh-keygen", "openssh-client")
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		if strict() {
			t.Fatalf("sshd needs /run/sshd: %v", err)
		}
		t.Skipf("sshd needs /run/sshd: %v (run as root)", err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "sortie-test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(pub))
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(blob)
	fp := "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])

	config := filepath.Join(dir, "sshd_config")
	lines := append([]string{
		"ListenAddress 127.0.0.1",
		"HostKey " + key,
		"PidFile none",
		"UsePAM no",
		"StrictModes no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
	}, sshAlgorithms...)
	if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	port := startService(t, "sshd", func() int { return closedPort(t) }, func(port int) []string {
		return []string{sshd, "-D", "-e", "-f", config, "-p", itoa(port)}
	}, sshReady)
	return sshServer{Port: port, HostKeyFingerprint: fp}
}

// sshReady waits until the server on port sends an SSH banner, or the
// process exits, or 20 seconds pass.
func sshReady(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp4", "127.0.0.1:"+itoa(port), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "SSH-2.0-") {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	return false
}

// whoisServer answers every WHOIS query with the same record and remembers
// the queries.
type whoisServer struct {
	Port int

	mu      sync.Mutex
	queries []string
}

// whoisRecord is what the responder answers, in the shape of a registry's
// answer.
const whoisRecord = `% Loopback WHOIS responder for sortie's integration tests
Domain Name: TEST.LOCAL
Registry Domain ID: 123_DOMAIN_TEST
Registrar: Example Registrar, Inc.
Creation Date: 2001-02-03T04:05:06Z
Updated Date: 2025-01-02T03:04:05Z
Registry Expiry Date: 2030-02-03T04:05:06Z
Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited
Name Server: NS1.TEST.LOCAL
Name Server: NS2.TEST.LOCAL
DNSSEC: unsigned
Registrant Organization: Sortie Test Org
Registrant Email: admin@test.local
>>> Last update of whois database: 2026-11-28T00:00:00Z <<<
`

func startWhois(t *testing.T) *whoisServer {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &whoisServer{Port: l.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				q, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				s.mu.Lock()
				s.queries = append(s.queries, q)
				s.mu.Unlock()
				io.WriteString(c, strings.ReplaceAll(whoisRecord, "\n", "\r\n"))
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return s
}

func (s *whoisServer) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// sourcesProxy is an HTTP proxy that answers, itself, the requests meant
// for the passive sources subfinder and gau ask (api.hackertarget.com,
// crt.sh, web.archive.org): HTTPS requests come through CONNECT and are
// answered over TLS with a self-signed certificate (both tools skip
// verification). Nothing is forwarded anywhere.
type sourcesProxy struct {
	URL string

	mu       sync.Mutex
	requests []string // "CONNECT host:port" or "GET host/path?query"
}

// The answers of the mocked sources.
var (
	hackertargetAnswer = "mail.test.local,127.0.0.1\nstaging.test.local,127.0.0.1\n"
	waybackURLs        = []string{"http://test.local/", "http://test.local/login?next=%2Fadmin", "https://test.local/static/app.js", "http://test.local/backup/db.sql"}
)

func startSourcesProxy(t *testing.T) *sourcesProxy {
	t.Helper()
	p := &sourcesProxy{}
	cert := selfSignedCert(t, "*."+zone)
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}

	inner := &http.Server{Handler: http.HandlerFunc(p.answer), ReadHeaderTimeout: 10 * time.Second}
	tunnels := newConnListener()
	innerDone := make(chan struct{})
	go func() { defer close(innerDone); inner.Serve(tunnels) }()

	outer := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			p.answer(w, r) // a plain http:// request through the proxy
			return
		}
		p.record("CONNECT " + r.Host)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			conn.Close()
			return
		}
		tunnels.push(tls.Server(&bufferedConn{Conn: conn, r: buf.Reader}, tlsConfig))
	})}
	l := listenLoopback(t)
	outerDone := make(chan struct{})
	go func() { defer close(outerDone); outer.Serve(l) }()
	t.Cleanup(func() {
		outer.Close()
		<-outerDone
		inner.Close()
		<-innerDone
	})
	p.URL = "http://" + l.Addr().String()
	return p
}

func (p *sourcesProxy) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, s)
}

// Requests returns what the proxy was asked, in order.
func (p *sourcesProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

func (p *sourcesProxy) answer(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p.record(r.Method + " " + host + r.URL.RequestURI())
	q := r.URL.Query()
	switch {
	case host == "api.hackertarget.com" && r.URL.Path == "/hostsearch/" && q.Get("q") == zone:
		io.WriteString(w, hackertargetAnswer)
	case host == "web.archive.org" && r.URL.Path == "/cdx/search/cdx" && q.Get("url") == zone+"/*":
		if q.Get("page") != "0" {
			// Past the last page the CDX API answers 400, which is what
			// ends gau's paging (an empty page does not).
			http.Error(w, "Page out of range", http.StatusBadRequest)
			return
		}
		rows := `[["original"]`
		for _, u := range waybackURLs {
			rows += `,["` + u + `"]`
		}
		io.WriteString(w, rows+"]")
	default:
		http.NotFound(w, r)
	}
}

// connListener is a net.Listener fed by push: the TLS connections inside
// CONNECT tunnels.
type connListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

var _ net.Listener = (*connListener)(nil)

// bufferedConn reads first what the HTTP server had already buffered.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// selfSignedCert makes a throwaway certificate for name.
func selfSignedCert(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
