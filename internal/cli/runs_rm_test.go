package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/report"
)

// runIDOf runs echo-hosts and returns the run's id and directory.
func (e *mainEnv) runIDOf(args ...string) (string, string) {
	e.t.Helper()
	code, _, stderr := e.run("", append([]string{"x", "echo-hosts"}, args...)...)
	if code != ExitOK {
		e.t.Fatalf("sortie x echo-hosts %v: exit %d\n%s", args, code, stderr)
	}
	m := regexp.MustCompile(`sortie: report: (.*)`).FindStringSubmatch(stderr)
	if m == nil {
		e.t.Fatalf("no report line in\n%s", stderr)
	}
	meta, err := report.ReadMeta(m[1])
	if err != nil {
		e.t.Fatal(err)
	}
	return meta.ID, m[1]
}

// listedRuns returns the ids "sortie runs --json" lists.
func (e *mainEnv) listedRuns() []string {
	e.t.Helper()
	code, stdout, stderr := e.run("", "runs", "--json")
	if code != ExitOK {
		e.t.Fatalf("sortie runs: exit %d\n%s", code, stderr)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m report.Meta
		if line != "" && json.Unmarshal([]byte(line), &m) == nil {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// holdStore takes the lock of the run's embedded store as a running sortie
// process does, until the test ends or release is called.
func holdStore(t *testing.T, dir string) (release func()) {
	t.Helper()
	p := filepath.Join(dir, "engine", "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		t.Fatal(err)
	}
	release = func() { f.Close() }
	t.Cleanup(release)
	return release
}

// TestRunsListRemovePrune: "sortie runs" lists runs written with --out too
// (and not those whose directory is gone); rm and prune remove finished
// runs, never a running one or a directory holding other files.
func TestRunsListRemovePrune(t *testing.T) {
	e := newMainEnv(t)
	e.write("config/sortie/tools/echo-hosts.yaml", echoHostsTool)
	idA, dirA := e.runIDOf("127.0.0.1")
	idB, dirB := e.runIDOf("127.0.0.2", "--out", filepath.Join(e.home, "elsewhere", "b"))
	idC, dirC := e.runIDOf("127.0.0.3", "--out", filepath.Join(e.home, "gone"))
	if err := os.RemoveAll(dirC); err != nil {
		t.Fatal(err)
	}
	if got := e.listedRuns(); !sameSet(got, idA, idB) {
		t.Errorf("sortie runs lists %v, want %s and %s (not %s, whose directory is gone)", got, idA, idB, idC)
	}
	if code, stdout, stderr := e.run("", "runs", "show", idB); code != ExitOK || !strings.Contains(stdout, "directory "+dirB) {
		t.Errorf("runs show %s (a --out run, by id): exit %d\n%s%s", idB, code, stdout, stderr)
	}

	// report without --out: the findings as JSON lines on stdout.
	code, stdout, stderr := e.run("", "runs", "report", idB)
	if code != ExitOK || !regexp.MustCompile(`(?m)^\{"_type":"subdomain",.*"host":"127.0.0.2"\}$`).MatchString(stdout) {
		t.Errorf("runs report %s: exit %d, stdout:\n%s\nstderr:\n%s", idB, code, stdout, stderr)
	}

	// Completion offers run ids.
	for _, sub := range []string{"show", "attach", "cancel", "resume", "report", "rm"} {
		_, stdout, _ := e.run("", "__complete", "runs", sub, "")
		if !strings.Contains(stdout, idA+"\techo-hosts, done") || !strings.Contains(stdout, idB+"\t") {
			t.Errorf("completion of runs %s offers:\n%s", sub, stdout)
		}
	}

	// A directory holding files sortie does not write is not removed.
	notes := filepath.Join(dirB, "notes.txt")
	if err := os.WriteFile(notes, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := e.run("", "runs", "rm", idB); code != ExitError || !strings.Contains(stderr, "holds files sortie does not write: notes.txt") {
		t.Errorf("runs rm of a directory with notes.txt: exit %d\n%s", code, stderr)
	}
	if err := os.Remove(notes); err != nil {
		t.Fatal(err) // the directory is still there
	}

	// A running run (its store held by a process) is never removed.
	release := holdStore(t, dirA)
	if code, _, stderr := e.run("", "runs", "rm", idA); code != ExitError || !strings.Contains(stderr, "run "+idA+" is running (process ") {
		t.Errorf("runs rm of a running run: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := e.run("", "runs", "prune", "--state", "done"); code != ExitError || !strings.Contains(stderr, idA+" not removed") || !strings.Contains(stdout, "removed "+idB) {
		t.Errorf("runs prune with a running run: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(dirA); err != nil {
		t.Fatalf("the running run's directory: %v", err)
	}
	if _, err := os.Stat(dirB); err == nil {
		t.Fatal("prune --state done left a done run")
	}
	release()

	// By age; --dry-run removes nothing.
	old := filepath.Join(dirA, report.MetaFile)
	m, err := report.ReadMeta(dirA)
	if err != nil {
		t.Fatal(err)
	}
	m.Started = time.Now().Add(-40 * 24 * time.Hour)
	if err := (&report.Dir{Path: dirA}).WriteMeta(m); err != nil {
		t.Fatal(err)
	}
	idD, dirD := e.runIDOf("127.0.0.4", "--out", filepath.Join(e.home, "d"))
	if code, stdout, _ := e.run("", "runs", "prune", "--older-than", "30d", "--dry-run"); code != ExitOK || !strings.HasPrefix(stdout, "would remove "+idA) || strings.Contains(stdout, idD) {
		t.Errorf("prune --older-than 30d --dry-run: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("--dry-run removed %s", dirA)
	}
	if code, stdout, stderr := e.run("", "runs", "prune", "--older-than", "30d"); code != ExitOK || !strings.HasPrefix(stdout, "removed "+idA) {
		t.Errorf("prune --older-than 30d: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := e.listedRuns(); !sameSet(got, idD) {
		t.Errorf("after prune, sortie runs lists %v, want %s", got, idD)
	}
	if code, stdout, _ := e.run("", "runs", "rm", idD); code != ExitOK || stdout != "removed "+idD+"  "+dirD+"\n" {
		t.Errorf("runs rm %s: exit %d, %q", idD, code, stdout)
	}
	if got := e.listedRuns(); len(got) != 0 {
		t.Errorf("after rm, sortie runs lists %v", got)
	}
	// The index no longer holds the removed or gone directories.
	if dirs, err := report.IndexedDirs(); err != nil || len(dirs) != 0 {
		t.Errorf("index after rm: %v, %v", dirs, err)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"runs", "rm"}, ExitUsage, "name the runs to remove"},
		{[]string{"runs", "rm", "nosuch"}, ExitUsage, "no local run nosuch"},
		{[]string{"runs", "prune"}, ExitUsage, "prune needs --older-than AGE and/or --state STATE"},
		{[]string{"runs", "prune", "--older-than", "soon"}, ExitUsage, `--older-than "soon": not an age`},
		{[]string{"runs", "prune", "--state", "running"}, ExitUsage, `--state "running": want one of`},
		{[]string{"runs", "rm", "x", "--server", "nats://127.0.0.1:1"}, ExitUsage, "runs on a server are kept by the server"},
		{[]string{"runs", "prune", "--state", "done", "--server", "nats://127.0.0.1:1"}, ExitUsage, "runs on a server are kept by the server"},
	} {
		code, _, stderr := e.run("", c.args...)
		if code != c.code || !strings.Contains(stderr, "sortie: error: "+c.msg) {
			t.Errorf("sortie %s: exit %d, want %d with %q:\n%s", strings.Join(c.args, " "), code, c.code, c.msg, stderr)
		}
	}
}

func sameSet(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestCompleteServerRunIDs: with --server on the command line, run ids are
// the server's.
func TestCompleteServerRunIDs(t *testing.T) {
	t.Parallel()
	f := startFleet(t)
	stdout, stderr, code := f.sortie(t, "x", "faketool", "a.test", "--detach")
	if code != ExitOK {
		t.Fatalf("x --detach: exit %d\n%s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	var out, errb bytes.Buffer
	Main(t.Context(), []string{"__complete", "runs", "show", "--server", f.url, ""}, strings.NewReader(""), &out, &errb)
	if !strings.Contains(out.String(), id+"\tfaketool, ") {
		t.Errorf("completion offers:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
}
