package testtarget

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// serverHeader is the Server header of every response.
const serverHeader = "nginx/1.18.0"

// maxSlow caps the delay of a /slow/ page.
const maxSlow = 10 * time.Minute

// Content types of the pages.
const (
	typeHTML = "text/html; charset=utf-8"
	typeText = "text/plain; charset=utf-8"
	typeJSON = "application/json"
	typeJS   = "application/javascript"
)

// The pages whose bytes the captures show are kept exactly as captured.
const (
	rootPage = `<!DOCTYPE html>
<html><head><title>Secator Test Target</title>
<meta name="generator" content="WordPress 5.8.1">
<script src="/static/app.js"></script></head>
<body><h1>Welcome to the test target</h1>
<a href="/about">About</a> <a href="/login">Login</a> <a href="/products?id=1">Products</a>
<a href="/docs/index.html">Docs</a> <a href="/api/v1/users">API</a>
<form action="/search" method="GET"><input name="q"><input type="submit"></form>
<!-- nuclei-test-marker: secator-target-v1 -->
</body></html>`

	appJS = `fetch("/api/v1/users").then(r=>r.json()); var cfg={endpoint:"/api/v1/config"};`

	usersJSON  = `[{"id":1,"name":"alice"},{"id":2,"name":"bob"}]`
	configJSON = `{"endpoint":"/api/v1/users","debug":false,"version":"1.0"}`

	robotsTxt = "User-agent: *\nDisallow: /admin\nDisallow: /backup\n"

	gitConfig = "[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\turl = https://example.test/repo.git\n"

	// EscapesTitle is the title of /escapes: a page that tries to act on
	// the terminal of whoever prints its title (clear the screen, a hidden
	// OSC 8 link, an OSC 52 clipboard write, a C1 CSI, a right-to-left
	// override). Nothing links to it. httpx prints the C1 CSI raw in its
	// JSON line (valid UTF-8), which the runner keeps.
	EscapesTitle = "Esc\x1b[2Japes \x1b]8;;http://127.0.0.1/\x1b\\link\x1b]8;;\x1b\\ " +
		"\x1b]52;c;ZXZpbA==\x07clip \u009b31mred exe\u202egnp.txt"

	// notFoundPage is nginx's own 404 page.
	notFoundPage = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n" +
		"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)

// page is the layout of the site's small pages: a title, a heading, the
// given body and a link home.
func page(title, body string) string {
	return "<html><head><title>" + title + "</title></head><body><h1>" + title + "</h1>" +
		body + `<a href="/">home</a></body></html>`
}

// newSite returns the site's handler.
func newSite() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Powered-By", "PHP/7.4.3")
		write(w, http.StatusOK, typeHTML, rootPage)
	})
	static := map[string]struct{ contentType, body string }{
		"/about":             {typeHTML, page("About us", `<a href="/contact">Contact</a> <a href="/team/alice">Alice</a>`)},
		"/login":             {typeHTML, page("Login", `<form method="POST" action="/login"><input name="user"><input type="password" name="pass"></form>`)},
		"/contact":           {typeHTML, page("Contact", `<a href="mailto:admin@example.test">mail</a>`)},
		"/team/alice":        {typeHTML, page("Alice", "")},
		"/docs/index.html":   {typeHTML, page("Docs", `<a href="/docs/install.html">Install</a>`)},
		"/docs/install.html": {typeHTML, page("Install", "")},
		"/admin":             {typeHTML, page("Admin panel", "")},
		"/backup":            {typeHTML, page("Index of /backup", `<a href="db.sql">db.sql</a>`)},
		"/static/app.js":     {typeJS, appJS},
		"/api/v1/users":      {typeJSON, usersJSON},
		"/api/v1/config":     {typeJSON, configJSON},
		"/robots.txt":        {typeText, robotsTxt},
		"/.git/config":       {typeText, gitConfig},
		"/escapes":           {typeHTML, "<html><head><title>" + EscapesTitle + "</title></head><body>escapes</body></html>"},
	}
	for path, p := range static {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			write(w, http.StatusOK, p.contentType, p.body)
		})
	}
	mux.HandleFunc("/products", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("id") {
		case "1":
			write(w, http.StatusOK, typeHTML, page("Products", `<a href="/products?id=2">next</a>`))
		case "2":
			write(w, http.StatusOK, typeHTML, page("Products", ""))
		default:
			notFound(w, r)
		}
	})
	mux.HandleFunc("/search", func(w http.ResponseWriter, r *http.Request) {
		q := html.EscapeString(r.URL.Query().Get("q"))
		write(w, http.StatusOK, typeHTML, page("Search", "<p>No results for "+q+"</p>"))
	})
	mux.HandleFunc("/slow/", slow)
	mux.HandleFunc("/", notFound)
	return withServerHeader(mux)
}

// withServerHeader sets the Server header of every response.
func withServerHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", serverHeader)
		h.ServeHTTP(w, r)
	})
}

func write(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body)) // HEAD: net/http drops the body.
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	write(w, http.StatusNotFound, typeHTML, notFoundPage)
}

// slow answers /slow/PATH?ms=N after N milliseconds (0 when ms is absent,
// at most 10 minutes). When the request's context ends first (the client
// went away or the target is closing) it aborts the connection without an
// answer. A path whose length is divisible by 3 is a 404; any other gets a
// page with links to PATH/a and PATH/bb (same ms), so that a crawler finds
// an endless, half-broken tree of slow pages.
func slow(w http.ResponseWriter, r *http.Request) {
	var delay time.Duration
	msParam := r.URL.Query().Get("ms")
	if msParam != "" {
		ms, err := strconv.Atoi(msParam)
		if err != nil || ms < 0 {
			write(w, http.StatusBadRequest, typeText, "ms must be a number of milliseconds\n")
			return
		}
		delay = min(time.Duration(ms)*time.Millisecond, maxSlow)
	}
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			// Returning would send an empty 200; abort the connection
			// instead, as a server that went away would.
			panic(http.ErrAbortHandler)
		}
	}
	path := r.URL.Path
	if len(path)%3 == 0 {
		notFound(w, r)
		return
	}
	base := strings.TrimSuffix(path, "/")
	query := ""
	if msParam != "" {
		query = "?ms=" + msParam
	}
	link := func(child string) string {
		u := (&url.URL{Path: base + "/" + child}).EscapedPath() + query
		return `<a href="` + html.EscapeString(u) + `">` + child + `</a>`
	}
	body := "<html><head><title>slow</title></head><body>slow " + html.EscapeString(path) + " " +
		link("a") + " " + link("bb") + "</body></html>"
	write(w, http.StatusOK, typeHTML, body)
}
