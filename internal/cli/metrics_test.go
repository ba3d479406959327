package cli

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/metrics"
)

// Off loopback the metrics endpoint needs a token; with one, it answers
// only to it. Loopback stays zero-config.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	reg := metrics.NewRegistry()
	reg.Gauge("sortie_test", "A test gauge.").With().Set(1)

	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		_, err := serveMetrics(metricsOptions{Addr: addr}, reg.Handler(), log)
		var ue usageError
		if err == nil || !errors.As(err, &ue) {
			t.Errorf("metrics on %s without a token: %v, want a usage error", addr, err)
		}
	}

	get := func(t *testing.T, url, auth string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}

	open := "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t))
	stop, err := serveMetrics(metricsOptions{Addr: open}, reg.Handler(), log)
	if err != nil {
		t.Fatalf("loopback without a token: %v", err)
	}
	defer stop()
	if code := get(t, "http://"+open+"/metrics", ""); code != http.StatusOK {
		t.Errorf("loopback without a token: %d, want 200", code)
	}

	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("scrape-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t))
	stop2, err := serveMetrics(metricsOptions{Addr: addr, TokenFile: tokFile}, reg.Handler(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	for auth, want := range map[string]int{
		"":                               http.StatusUnauthorized,
		"Bearer wrong":                   http.StatusUnauthorized,
		"scrape-token-0123456789":        http.StatusUnauthorized,
		"Bearer scrape-token-0123456789": http.StatusOK,
	} {
		if code := get(t, "http://"+addr+"/metrics", auth); code != want {
			t.Errorf("Authorization %q: %d, want %d", auth, code, want)
		}
	}

	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := serveMetrics(metricsOptions{Addr: "0.0.0.0:0", TokenFile: short}, reg.Handler(), log); err == nil {
		t.Error("a 3-character token was accepted")
	}
}

// Only the exact "Bearer TOKEN" header passes the metrics token check.
func FuzzRequireBearer(f *testing.F) {
	const tok = "scrape-token-0123456789"
	for _, s := range []string{"", "Bearer " + tok, "bearer " + tok, "Bearer " + tok + " ", "Bearer", tok, "Basic " + tok} {
		f.Add(s)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h := requireBearer(tok, ok)
	f.Fuzz(func(t *testing.T, auth string) {
		req, _ := http.NewRequest("GET", "/metrics", nil)
		req.Header["Authorization"] = []string{auth}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if passed := rec.Code == http.StatusOK; passed != (auth == "Bearer "+tok) {
			t.Fatalf("Authorization %q: status %d", auth, rec.Code)
		}
	})
}
