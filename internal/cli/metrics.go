package cli

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// metricsOptions are the metrics flags of "sortie worker" and "sortie
// server": one metrics HTTP server for both.
type metricsOptions struct {
	// Addr serves Prometheus metrics on Addr/metrics. Defaults to none.
	Addr string
	// TokenFile holds the bearer token scrapers must present. Required
	// off loopback; defaults to none (loopback needs no token).
	TokenFile string
}

func (o *metricsOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.Addr, "metrics-addr", "", "serve Prometheus metrics on `HOST:PORT`/metrics")
	f.StringVar(&o.TokenFile, "metrics-token-file", "", "`FILE` holding the bearer token scrapers must present (required off loopback)")
}

// metricsToken reads the token the metrics endpoint requires: none on
// loopback without a token file, and a refusal off loopback without one.
func (o *metricsOptions) token() (string, error) {
	if o.Addr == "" {
		return "", nil
	}
	if o.TokenFile == "" {
		host, _, err := net.SplitHostPort(o.Addr)
		if err != nil {
			return "", usagef("--metrics-addr %s: %v", o.Addr, err)
		}
		if !loopbackHost(host) {
			return "", usageError{withHint(fmt.Errorf("--metrics-addr %s: metrics off loopback need a bearer token", o.Addr),
				"give --metrics-token-file FILE (SORTIE_METRICS_TOKEN_FILE) and configure the scraper's bearer token, or listen on 127.0.0.1")}
		}
		return "", nil
	}
	b, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return "", usagef("--metrics-token-file: %v", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 || strings.ContainsAny(tok, " \t\r\n") {
		return "", usagef("--metrics-token-file %s: want one token of at least 16 characters, no spaces", o.TokenFile)
	}
	return tok, nil
}

// loopbackHost reports whether host names only the loopback interface.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// serveMetrics serves h on the metrics address until stop is called,
// behind the bearer token when there is one.
func serveMetrics(o metricsOptions, h http.Handler, log *slog.Logger) (stop func(), err error) {
	tok, err := o.token()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", requireBearer(tok, h))
	return serveMux(o.Addr, mux, tok != "", log)
}

// serveMux serves mux on addr until stop is called.
func serveMux(addr string, mux *http.ServeMux, withToken bool, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics served", "addr", ln.Addr().String(), "token", withToken)
	return func() { srv.Close() }, nil
}

// errBadBearer is the answer to a scrape without the right token.
var errBadBearer = errors.New("missing or wrong bearer token")

// requireBearer answers 401 to a request without "Authorization: Bearer
// tok"; an empty tok lets everything through.
func requireBearer(tok string, h http.Handler) http.Handler {
	if tok == "" {
		return h
	}
	want := []byte("Bearer " + tok)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sortie metrics"`)
			http.Error(w, errBadBearer.Error(), http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
