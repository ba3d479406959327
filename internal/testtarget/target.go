// Package testtarget is the loopback web site that sortie's integration
// tests scan: an HTTP server and an HTTPS server (self-signed certificate for
// localhost and 127.0.0.1, made at start) on 127.0.0.1 that serve a small
// site shaped like the one the project's captured tool outputs were taken
// from, so that every tool finds something:
//
//	/                  Server: nginx/1.18.0, X-Powered-By: PHP/7.4.3, a WordPress
//	                   5.8.1 generator tag, links, a search form, /static/app.js
//	                   and the comment "<!-- nuclei-test-marker: secator-target-v1 -->"
//	/about /login /contact /team/alice /products?id=1 /docs/index.html
//	/static/app.js     references /api/v1/users and /api/v1/config
//	/api/v1/users /api/v1/config /search?q=
//	/admin /backup     ("Index of /backup")
//	/robots.txt        disallows /admin and /backup
//	/.git/config       a git config whose remote is https://example.test/repo.git
//	/slow/...?ms=N     answers after N ms with two child links; a path whose
//	                   length is divisible by 3 is a 404
//
// Every response carries "Server: nginx/1.18.0"; unknown paths are 404s.
// The pages are byte for byte those of the captures where the captures show
// them, so content lengths, titles and hashes agree.
//
// The servers listen on 127.0.0.1 only, never on any other address.
package testtarget

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// loopback is the only address the target listens on.
const loopback = "127.0.0.1"

// Options configures a target.
type Options struct {
	// HTTPPort is the port of the plain HTTP server on 127.0.0.1. Defaults
	// to 0: a free port chosen by the system.
	HTTPPort int

	// HTTPSPort is the port of the HTTPS server on 127.0.0.1. Defaults to 0:
	// a free port chosen by the system.
	HTTPSPort int

	// ErrorLog receives the servers' own errors (TLS handshakes that
	// scanners break off, mostly). Defaults to discarding them.
	ErrorLog *log.Logger
}

func (o Options) validate() error {
	var errs []error
	if o.HTTPPort < 0 || o.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("HTTPPort %d out of range", o.HTTPPort))
	}
	if o.HTTPSPort < 0 || o.HTTPSPort > 65535 {
		errs = append(errs, fmt.Errorf("HTTPSPort %d out of range", o.HTTPSPort))
	}
	if o.HTTPPort != 0 && o.HTTPPort == o.HTTPSPort {
		errs = append(errs, fmt.Errorf("HTTPPort and HTTPSPort are both %d", o.HTTPPort))
	}
	return errors.Join(errs...)
}

// Info describes a running target: where it listens and how to trust its
// certificate. It is what Serve prints, as one JSON line.
type Info struct {
	// HTTPURL is "http://127.0.0.1:PORT", without a trailing slash.
	HTTPURL string `json:"http_url"`
	// HTTPSURL is "https://127.0.0.1:PORT", without a trailing slash.
	HTTPSURL  string `json:"https_url"`
	HTTPPort  int    `json:"http_port"`
	HTTPSPort int    `json:"https_port"`
	// CertFingerprintSHA256 is the lowercase hex SHA-256 of the
	// certificate's DER encoding (what httpx and nmap print).
	CertFingerprintSHA256 string `json:"cert_sha256"`
	// CertPEM is the self-signed certificate, PEM encoded.
	CertPEM string `json:"cert_pem"`
}

// CertPool returns a pool that trusts the target's certificate.
func (i Info) CertPool() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(i.CertPEM)) {
		return nil, errors.New("testtarget: no certificate in CertPEM")
	}
	return pool, nil
}

// Target is a running test target. Close stops it; so does cancelling the
// context given to Start.
type Target struct {
	Info

	httpSrv, httpsSrv *http.Server
	// baseCancel cancels the context of every request: slow pages return at
	// once when the target stops.
	baseCancel context.CancelFunc
	stopWatch  func() bool
	serving    sync.WaitGroup // the two Serve goroutines
	closeOnce  sync.Once

	// mu guards inflight and closed; idle is signalled when inflight drops
	// to zero.
	mu       sync.Mutex
	idle     *sync.Cond
	inflight int
	closed   bool
}

// Start starts the HTTP and HTTPS servers on 127.0.0.1 and returns once
// both are listening. The target runs until Close is called or ctx is
// cancelled.
func Start(ctx context.Context, opts Options) (*Target, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("testtarget: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("testtarget: %w", err)
	}
	cert, der, err := newCertificate(time.Now())
	if err != nil {
		return nil, fmt.Errorf("testtarget: certificate: %w", err)
	}
	var lc net.ListenConfig
	httpLn, err := lc.Listen(ctx, "tcp4", net.JoinHostPort(loopback, strconv.Itoa(opts.HTTPPort)))
	if err != nil {
		return nil, fmt.Errorf("testtarget: %w", err)
	}
	httpsLn, err := lc.Listen(ctx, "tcp4", net.JoinHostPort(loopback, strconv.Itoa(opts.HTTPSPort)))
	if err != nil {
		httpLn.Close()
		return nil, fmt.Errorf("testtarget: %w", err)
	}

	errorLog := opts.ErrorLog
	if errorLog == nil {
		errorLog = log.New(io.Discard, "", 0)
	}
	// Requests get a context that ends when the target stops, whatever the
	// caller's ctx (which may already be done by the time Close runs).
	base, baseCancel := context.WithCancel(context.WithoutCancel(ctx))
	sum := sha256.Sum256(der)
	t := &Target{
		Info: Info{
			HTTPPort:              httpLn.Addr().(*net.TCPAddr).Port,
			HTTPSPort:             httpsLn.Addr().(*net.TCPAddr).Port,
			CertFingerprintSHA256: hex.EncodeToString(sum[:]),
			CertPEM:               string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		},
		baseCancel: baseCancel,
	}
	t.idle = sync.NewCond(&t.mu)
	t.HTTPURL = "http://" + net.JoinHostPort(loopback, strconv.Itoa(t.HTTPPort))
	t.HTTPSURL = "https://" + net.JoinHostPort(loopback, strconv.Itoa(t.HTTPSPort))

	handler := t.track(newSite())
	newServer := func() *http.Server {
		return &http.Server{
			Handler:           handler,
			ErrorLog:          errorLog,
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return base },
		}
	}
	t.httpSrv, t.httpsSrv = newServer(), newServer()
	t.httpsSrv.TLSConfig = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	t.serving.Add(2)
	go func() {
		defer t.serving.Done()
		t.httpSrv.Serve(httpLn) // returns http.ErrServerClosed on Close
	}()
	go func() {
		defer t.serving.Done()
		t.httpsSrv.Serve(tls.NewListener(httpsLn, t.httpsSrv.TLSConfig))
	}()
	t.stopWatch = context.AfterFunc(ctx, t.close)
	return t, nil
}

// track counts the requests in flight so that Close can wait for them; a
// request that arrives while the target is closing gets a 503.
func (t *Target) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			w.Header().Set("Server", serverHeader)
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		t.inflight++
		t.mu.Unlock()
		defer func() {
			t.mu.Lock()
			t.inflight--
			if t.inflight == 0 {
				t.idle.Broadcast()
			}
			t.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// Close stops both servers and returns once every request handler has
// returned. It is safe to call more than once and concurrently.
func (t *Target) Close() {
	t.stopWatch()
	t.close()
}

func (t *Target) close() {
	t.closeOnce.Do(func() {
		// Order: cancel the requests' context so slow pages return, refuse
		// new requests, close listeners and connections, then wait for the
		// Serve goroutines and for the handlers still finishing.
		t.baseCancel()
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.httpSrv.Close()
		t.httpsSrv.Close()
		t.serving.Wait()
		t.mu.Lock()
		for t.inflight > 0 {
			t.idle.Wait()
		}
		t.mu.Unlock()
	})
}
