// Command faketool is the tool the engine, worker and chaos tests run: it
// reads targets from a file and prints JSON lines for each, and it can be
// told to be slow, to ignore SIGINT, or to kill the worker that started it.
//
//	faketool -l targets.txt [-n 2] [-sleep 100ms] [-ignore-int] [-kill-parent] [-kill-parent-on TARGET] [-H HEADER]...
//
// For each target it prints n lines {"url": "http://TARGET/I"} and then
// sleeps. On SIGINT it exits at once (status 130) unless -ignore-int.
// -kill-parent-on kills the parent only when TARGET is in the list, so one
// chunk of a task can kill its worker while the others run normally.
//
// Given headers (-H), it echoes them the way real tools do, for the
// redaction tests: in each url, percent-encoded and JSON-escaped; in a
// history file under its HOME (as ffuf keeps one); on stderr; and it then
// exits with status 3.
//
// When a file named "invocations" exists next to the path it was started
// by (a test links the tool into a directory of its own), each run appends
// its targets to it as one line: a test can prove the tool never started.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// headers collects repeated -H values.
type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	list := flag.String("l", "", "file of targets")
	n := flag.Int("n", 1, "lines per target")
	sleep := flag.Duration("sleep", 0, "pause after each target")
	ignoreInt := flag.Bool("ignore-int", false, "ignore SIGINT")
	killParent := flag.Bool("kill-parent", false, "SIGKILL the parent process first")
	killParentOn := flag.String("kill-parent-on", "", "SIGKILL the parent process first if this target is in the list")
	var hs headers
	flag.Var(&hs, "H", "header to echo (repeatable)")
	flag.Parse()

	f, err := os.Open(*list)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		targets = append(targets, sc.Text())
	}
	record(targets)
	if *killParent || *killParentOn != "" && slices.Contains(targets, *killParentOn) {
		_ = syscall.Kill(os.Getppid(), syscall.SIGKILL)
	}
	sigs := make(chan os.Signal, 1)
	if *ignoreInt {
		signal.Ignore(syscall.SIGINT)
	} else {
		signal.Notify(sigs, syscall.SIGINT)
	}
	out := bufio.NewWriter(os.Stdout)
	if len(hs) > 0 {
		echoHeaders(out, targets, hs)
		os.Exit(3)
	}
	for _, t := range targets {
		for i := 0; i < *n; i++ {
			fmt.Fprintf(out, "{\"url\":\"http://%s/%d\"}\n", t, i)
		}
		out.Flush()
		if *sleep > 0 {
			select {
			case <-time.After(*sleep):
			case <-sigs:
				os.Exit(130)
			}
		}
	}
}

// echoHeaders echoes the headers into findings, a file under HOME and
// stderr.
func echoHeaders(out *bufio.Writer, targets, hs []string) {
	for _, t := range targets {
		for i, h := range hs {
			fmt.Fprintf(out, "{\"url\":\"http://%s/%d?h=%s\"}\n", t, i, url.QueryEscape(h))
			fmt.Fprintf(out, "{\"url\":\"http://%s/%d#%s\"}\n", t, i, escapeAll(h))
		}
	}
	out.Flush()
	dir := filepath.Join(os.Getenv("HOME"), ".config", "faketool")
	_ = os.MkdirAll(dir, 0o700)
	b, _ := json.Marshal(map[string]any{"headers": hs})
	_ = os.WriteFile(filepath.Join(dir, "history.json"), b, 0o600)
	for _, h := range hs {
		fmt.Fprintln(os.Stderr, "request refused with header", h)
	}
}

// escapeAll writes every byte of s as a JSON \u escape.
func escapeAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "\\u%04x", c)
	}
	return b.String()
}

// record appends targets to the invocations file, if there is one.
func record(targets []string) {
	f, err := os.OpenFile(filepath.Join(filepath.Dir(os.Args[0]), "invocations"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, strings.Join(targets, " "))
}
