package testtarget

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	MaybeServe()
	goleak.VerifyTestMain(m)
}

func start(t *testing.T) *Target {
	t.Helper()
	tg, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	return tg
}

// client returns an HTTP client that trusts the target's certificate and
// keeps no idle connections (goleak).
func client(t *testing.T, info Info) *http.Client {
	t.Helper()
	pool, err := info.CertPool()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, c *http.Client, u string) response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(body)}
}

func TestPages(t *testing.T) {
	t.Parallel()
	tg := start(t)
	c := client(t, tg.Info)
	cases := []struct {
		path, contentType string
		status            int
		// size is the content length in the captured tool outputs; 0 when
		// the captures do not show it.
		size     int
		contains []string
	}{
		{"/", typeHTML, 200, 503, []string{
			`<meta name="generator" content="WordPress 5.8.1">`, `<!-- nuclei-test-marker: secator-target-v1 -->`,
			`href="/about"`, `href="/login"`, `href="/products?id=1"`, `href="/docs/index.html"`,
			`href="/api/v1/users"`, `<form action="/search"`, `<script src="/static/app.js">`,
		}},
		{"/about", typeHTML, 200, 161, []string{"<title>About us</title>", `href="/contact"`, `href="/team/alice"`}},
		{"/login", typeHTML, 200, 190, []string{`type="password"`}},
		{"/contact", typeHTML, 200, 141, []string{"mailto:admin@example.test"}},
		{"/team/alice", typeHTML, 200, 93, []string{"<title>Alice</title>"}},
		{"/products?id=1", typeHTML, 200, 132, []string{`href="/products?id=2"`}},
		{"/products?id=2", typeHTML, 200, 0, []string{"<title>Products</title>"}},
		{"/products?id=3", typeHTML, 404, 0, nil},
		{"/docs/index.html", typeHTML, 200, 131, []string{`href="/docs/install.html"`}},
		{"/docs/install.html", typeHTML, 200, 97, nil},
		{"/admin", typeHTML, 200, 105, nil},
		{"/backup", typeHTML, 200, 142, []string{"Index of /backup"}},
		{"/static/app.js", typeJS, 200, 78, []string{`"/api/v1/users"`, `"/api/v1/config"`}},
		{"/api/v1/users", typeJSON, 200, 47, []string{`"alice"`}},
		{"/api/v1/config", typeJSON, 200, 0, []string{`"endpoint"`}},
		{"/search?q=%3Cscript%3E", typeHTML, 200, 0, []string{"No results for &lt;script&gt;"}},
		{"/robots.txt", typeText, 200, 49, []string{"Disallow: /admin\n", "Disallow: /backup\n"}},
		{"/.git/config", typeText, 200, 91, []string{"[core]", "url = https://example.test/repo.git"}},
		{"/escapes", typeHTML, 200, 0, []string{"<title>" + EscapesTitle + "</title>", "\x1b[2J", "\x1b]52;c;", "\u202e"}},
		{"/nope", typeHTML, 404, 0, []string{"404 Not Found", "nginx/1.18.0"}},
		{"/index.php", typeHTML, 404, 0, nil},
		{"/about/more", typeHTML, 404, 0, nil},
	}
	for _, base := range []string{tg.HTTPURL, tg.HTTPSURL} {
		for _, tc := range cases {
			r := get(t, c, base+tc.path)
			name := base + tc.path
			if r.status != tc.status {
				t.Errorf("%s: status %d, want %d", name, r.status, tc.status)
			}
			if got := r.header.Get("Server"); got != "nginx/1.18.0" {
				t.Errorf("%s: Server %q", name, got)
			}
			if got := r.header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("%s: Content-Type %q, want %q", name, got, tc.contentType)
			}
			powered := r.header.Get("X-Powered-By")
			if (tc.path == "/") != (powered == "PHP/7.4.3") {
				t.Errorf("%s: X-Powered-By %q", name, powered)
			}
			if tc.size != 0 && len(r.body) != tc.size {
				t.Errorf("%s: %d bytes, the captures have %d", name, len(r.body), tc.size)
			}
			for _, s := range tc.contains {
				if !strings.Contains(r.body, s) {
					t.Errorf("%s: body lacks %q:\n%s", name, s, r.body)
				}
			}
		}
	}
}

func TestTLSCertificate(t *testing.T) {
	t.Parallel()
	tg := start(t)
	pool, err := tg.CertPool()
	if err != nil {
		t.Fatal(err)
	}
	// The certificate verifies for both names it was made for.
	for _, name := range []string{"localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(tg.HTTPSPort)),
			&tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Fatalf("TLS as %s: %v", name, err)
		}
		cert := conn.ConnectionState().PeerCertificates[0]
		conn.Close()

		sum := sha256.Sum256(cert.Raw)
		if got := hex.EncodeToString(sum[:]); got != tg.CertFingerprintSHA256 {
			t.Errorf("fingerprint %s, Info says %s", got, tg.CertFingerprintSHA256)
		}
		key, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || key.Curve != elliptic.P256() {
			t.Errorf("key %T, want ECDSA P-256", cert.PublicKey)
		}
		if cert.Subject.CommonName != "localhost" || cert.Issuer.CommonName != "localhost" {
			t.Errorf("subject %s issuer %s", cert.Subject, cert.Issuer)
		}
		if life := cert.NotAfter.Sub(cert.NotBefore); life < 365*24*time.Hour || life > 367*24*time.Hour {
			t.Errorf("valid for %v, want a year", life)
		}
		if time.Now().Before(cert.NotBefore) || time.Now().After(cert.NotAfter) {
			t.Errorf("not valid now: %v to %v", cert.NotBefore, cert.NotAfter)
		}
	}
	// Another name does not verify.
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(tg.HTTPSPort)),
		&tls.Config{RootCAs: pool, ServerName: "example.test"})
	if err == nil {
		conn.Close()
		t.Error("certificate verified for example.test")
	}
}

func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	tg := start(t)
	for _, u := range []string{tg.HTTPURL, tg.HTTPSURL} {
		pu, err := url.Parse(u)
		if err != nil || pu.Hostname() != "127.0.0.1" {
			t.Errorf("URL %s is not on 127.0.0.1", u)
		}
	}
	// The port is taken on 127.0.0.1 only: another loopback address of the
	// same port is free.
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.2", strconv.Itoa(tg.HTTPPort)))
	if err != nil {
		t.Fatalf("127.0.0.2:%d is taken: %v", tg.HTTPPort, err)
	}
	ln.Close()
}

func TestPorts(t *testing.T) {
	t.Parallel()
	tg := start(t)
	_, err := Start(context.Background(), Options{HTTPPort: tg.HTTPPort})
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Start on a used port: %v, want EADDRINUSE", err)
	}
	if _, err := Start(context.Background(), Options{HTTPPort: 70000, HTTPSPort: -1}); err == nil ||
		!strings.Contains(err.Error(), "HTTPPort 70000") || !strings.Contains(err.Error(), "HTTPSPort -1") {
		t.Errorf("bad ports: %v, want both reported", err)
	}

	// Given ports are used. Free ports are found by listening on port 0;
	// another process could take one before Start does, which is unlikely.
	free := func() int {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	hp, sp := free(), free()
	tg2, err := Start(context.Background(), Options{HTTPPort: hp, HTTPSPort: sp})
	if err != nil {
		t.Fatal(err)
	}
	defer tg2.Close()
	if tg2.HTTPPort != hp || tg2.HTTPSPort != sp || tg2.HTTPURL != fmt.Sprintf("http://127.0.0.1:%d", hp) {
		t.Errorf("ports %d %d (%s), want %d %d", tg2.HTTPPort, tg2.HTTPSPort, tg2.HTTPURL, hp, sp)
	}
}

func TestSlow(t *testing.T) {
	t.Parallel()
	tg := start(t)
	c := client(t, tg.Info)

	began := time.Now()
	r := get(t, c, tg.HTTPURL+"/slow/x?ms=50")
	if took := time.Since(began); took < 50*time.Millisecond {
		t.Errorf("answered after %v, want at least 50ms", took)
	}
	if r.status != 200 || !strings.Contains(r.body, "slow /slow/x ") ||
		!strings.Contains(r.body, `href="/slow/x/a?ms=50"`) || !strings.Contains(r.body, `href="/slow/x/bb?ms=50"`) {
		t.Errorf("/slow/x: %d %q", r.status, r.body)
	}
	// A path whose length is divisible by 3 is a 404.
	for path, status := range map[string]int{
		"/slow/x/a":    404, // 9 characters
		"/slow/x/bb":   200, // 10
		"/slow/x/bb/":  200, // 11
		"/slow/":       404, // 6
		"/slow/abcdef": 404, // 12
		"/slow/abcde":  200, // 11
		"/slow/x?ms=z": 400,
	} {
		if r := get(t, c, tg.HTTPURL+path); r.status != status {
			t.Errorf("%s: status %d, want %d", path, r.status, status)
		}
	}
	if r := get(t, c, tg.HTTPURL+"/slow/x/bb/"); !strings.Contains(r.body, `href="/slow/x/bb/a"`) {
		t.Errorf("trailing slash: %q", r.body)
	}
}

func TestSlowStopsWhenClientGoesAway(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", "/slow/x?ms=600000", nil)
	rec := httptest.NewRecorder()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		newSite().ServeHTTP(rec, req)
	}()
	cancel()
	select {
	case p := <-done:
		if p != http.ErrAbortHandler {
			t.Errorf("handler ended with %v, want the http.ErrAbortHandler panic", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow page still waiting after the request's context ended")
	}
	if rec.Body.Len() != 0 {
		t.Errorf("wrote %q to a gone client", rec.Body.String())
	}
}

func TestCloseStopsSlowRequests(t *testing.T) {
	t.Parallel()
	tg, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, tg.Info)
	sent := make(chan struct{})
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		"GET", tg.HTTPURL+"/slow/x?ms=600000", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			// The request reached the handler after Close began.
			if resp.StatusCode != http.StatusServiceUnavailable {
				err = fmt.Errorf("status %d", resp.StatusCode)
			} else {
				err = errors.New("503")
			}
		}
		errc <- err
	}()
	<-sent
	closed := make(chan struct{})
	go func() {
		tg.Close()
		tg.Close() // twice is fine
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a slow request")
	}
	if err := <-errc; err != nil && strings.HasPrefix(err.Error(), "status ") {
		t.Errorf("slow request answered with %v although the target closed", err)
	}
	if _, err := c.Get(tg.HTTPURL + "/"); err == nil {
		t.Error("closed target still answers")
	}
}

func TestContextStopsTarget(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	tg, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	tg.Close() // returns once the shutdown cancel started is complete
	if conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(tg.HTTPPort))); err == nil {
		conn.Close()
		t.Error("target still listening after its context was cancelled")
	}
	if _, err := Start(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a done context: %v", err)
	}
}

// TestMaybeServe runs the test binary as a target process, as an
// integration test in a network namespace would.
func TestMaybeServe(t *testing.T) {
	t.Parallel()
	for _, stop := range []string{"stdin", "sigterm"} {
		t.Run(stop, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), EnvServe+"=1")
			cmd.Stderr = os.Stderr
			cmd.WaitDelay = 10 * time.Second
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			info, err := ReadInfo(stdout)
			if err != nil {
				t.Fatal(err)
			}
			c := client(t, info)
			for _, u := range []string{info.HTTPURL, info.HTTPSURL} {
				if r := get(t, c, u+"/"); r.status != 200 || !strings.Contains(r.body, "nuclei-test-marker") {
					t.Errorf("%s: %d", u, r.status)
				}
			}
			if stop == "stdin" {
				stdin.Close()
			} else {
				cmd.Process.Signal(syscall.SIGTERM)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("target process: %v", err)
			}
		})
	}
}

func TestParseServeSpec(t *testing.T) {
	t.Parallel()
	if o, err := parseServeSpec("http=8080, https=8443"); err != nil || o.HTTPPort != 8080 || o.HTTPSPort != 8443 {
		t.Errorf("ports: %+v, %v", o, err)
	}
	if o, err := parseServeSpec("1"); err != nil || o != (Options{}) {
		t.Errorf("1: %+v, %v", o, err)
	}
	if _, err := parseServeSpec("ftp=21,http=x"); err == nil || !strings.Contains(err.Error(), "ftp") || !strings.Contains(err.Error(), "http=x") {
		t.Errorf("bad spec: %v", err)
	}
}

func ExampleStart() {
	tg, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tg.Close()
	resp, err := http.Get(tg.HTTPURL + "/robots.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Header.Get("Server"))
	fmt.Print(string(body))
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// nginx/1.18.0
	// User-agent: *
	// Disallow: /admin
	// Disallow: /backup
}
