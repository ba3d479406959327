package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/cli"
	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
)

func TestNaabu(t *testing.T) {
	begin(t)
	needTool(t, "naabu")
	tg := startTarget(t)
	closed := closedPort(t)

	ports := itoa(tg.HTTPPort) + "," + itoa(tg.HTTPSPort) + "," + itoa(closed)
	r := runTool(t, 3*time.Minute, "naabu", "127.0.0.1", "--ports", ports, "--task-timeout", "2m")
	r.wantDone(t)

	// A connect scan (no privileges needed): the definition's default.
	if len(r.Meta.Commands) != 1 || !strings.Contains(r.Meta.Commands[0], " -s c ") || !strings.Contains(r.Meta.Commands[0], " -p "+ports+" ") {
		t.Errorf("run.json commands %q, want one with -s c and -p %s", r.Meta.Commands, ports)
	}
	// naabu prints every open port twice; each is one finding.
	var got []int
	for _, p := range only[*finding.Port](r.Findings) {
		if p.IP != "127.0.0.1" || p.Protocol != "tcp" || p.State != "open" || p.Host != "" {
			t.Errorf("port finding %+v, want ip 127.0.0.1, tcp, open, no host", *p)
		}
		got = append(got, p.Port)
	}
	slices.Sort(got)
	want := []int{tg.HTTPPort, tg.HTTPSPort}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("open ports %v, want exactly %v (closed port %d must not be reported)", got, want, closed)
	}
}

func TestNmap(t *testing.T) {
	begin(t)
	needTool(t, "nmap")
	tg := startTarget(t)

	r := runTool(t, 4*time.Minute, "nmap", "127.0.0.1", "--ports", itoa(tg.HTTPPort)+","+itoa(tg.HTTPSPort), "--task-timeout", "3m")
	r.wantDone(t)
	if len(r.Meta.Commands) != 1 || !strings.Contains(r.Meta.Commands[0], " -sT ") || !strings.Contains(r.Meta.Commands[0], " -Pn ") ||
		!strings.Contains(r.Meta.Commands[0], " -sV ") {
		t.Errorf("run.json commands %q, want one with -sT -sV -Pn", r.Meta.Commands)
	}

	ports := map[int]*finding.Port{}
	for _, p := range only[*finding.Port](r.Findings) {
		ports[p.Port] = p
	}
	if len(ports) != 2 || ports[tg.HTTPPort] == nil || ports[tg.HTTPSPort] == nil {
		t.Fatalf("port findings %+v, want ports %d and %d", ports, tg.HTTPPort, tg.HTTPSPort)
	}
	for port, tls := range map[int]bool{tg.HTTPPort: false, tg.HTTPSPort: true} {
		p := ports[port]
		// nmap names an HTTPS port "http" in an "ssl" tunnel.
		if p.IP != "127.0.0.1" || p.Protocol != "tcp" || p.State != "open" || p.ServiceName != "http" ||
			p.TLS != tls || p.Product != "nginx" || p.Version != "1.18.0" ||
			!slices.Equal(p.CPEs, []string{"cpe:/a:igor_sysoev:nginx:1.18.0"}) {
			t.Errorf("port %d: %+v\nwant 127.0.0.1 tcp open, service http, tls %v, nginx 1.18.0, cpe:/a:igor_sysoev:nginx:1.18.0", port, *p, tls)
		}
	}
	techs := map[string]*finding.Technology{}
	for _, tc := range only[*finding.Technology](r.Findings) {
		techs[tc.Match] = tc
	}
	for _, port := range []int{tg.HTTPPort, tg.HTTPSPort} {
		m := "127.0.0.1:" + itoa(port)
		if tc := techs[m]; tc == nil || tc.Product != "nginx" || tc.Version != "1.18.0" || tc.CPE != "cpe:/a:igor_sysoev:nginx:1.18.0" {
			t.Errorf("technology on %s: %+v, want nginx 1.18.0", m, tc)
		}
	}
	if ips := only[*finding.IP](r.Findings); len(ips) != 1 || ips[0].IP != "127.0.0.1" || !ips[0].Alive {
		t.Errorf("ip findings %+v, want 127.0.0.1 alive", ips)
	}

	// The XML report nmap wrote is kept; cut after the first port, as if
	// nmap had been killed there, it still gives that port.
	t.Run("import_truncated_xml", func(t *testing.T) {
		xml := r.rawFile(t, "output.xml")
		end := strings.Index(xml, "</port>")
		if end < 0 {
			t.Fatalf("no </port> in nmap's XML:\n%s", xml)
		}
		cut := filepath.Join(t.TempDir(), "cut.xml")
		if err := os.WriteFile(cut, []byte(xml[:end+len("</port>")]), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "import")
		ir := sortie(t, context.Background(), nil, "import", "nmap", cut, "--out", out, "--json", "-q")
		ir.Dir = out
		ir.load(t)
		if ir.Code != cli.ExitPartial || ir.Meta == nil || ir.Meta.State != "partial" || ir.Meta.Kind != "import" {
			t.Fatalf("import of a truncated XML: exit code %d, run.json %+v; want %d and state partial\nstderr:\n%s", ir.Code, ir.Meta, cli.ExitPartial, ir.Stderr)
		}
		imported := only[*finding.Port](ir.Findings)
		if len(imported) != 1 {
			t.Fatalf("import kept %d ports, want the 1 complete one: %+v", len(imported), imported)
		}
		orig := ports[imported[0].Port]
		if orig == nil || imported[0].ServiceName != orig.ServiceName || imported[0].Product != orig.Product || imported[0].Version != orig.Version {
			t.Errorf("imported port %+v, want the same as the scan's %+v", *imported[0], orig)
		}
	})
}

// TestNmapTimeout stops nmap with --task-timeout in the middle of a scan:
// the task ends partial (exit code 3), the truncated XML nmap leaves is
// read without failing the run, and what was written is kept.
func TestNmapTimeout(t *testing.T) {
	begin(t)
	needTool(t, "nmap")
	tg := startTarget(t)
	// A port that accepts connections and never says anything keeps
	// nmap's service detection waiting for tens of seconds.
	tarpit := startTarpit(t)

	ports := itoa(tg.HTTPPort) + "," + itoa(tg.HTTPSPort) + "," + itoa(tarpit) + ",1-1024"
	// Reason "timeout" below is what shows the limit stopped nmap; runTool's
	// own deadline only keeps a hang from stalling the suite.
	r := runTool(t, 2*time.Minute, "nmap", "127.0.0.1", "--ports", ports, "--task-timeout", "3s", "--stop-grace", "1s")
	if r.Code != cli.ExitPartial || r.Meta.State != "partial" || r.Meta.Reason != "timeout" {
		t.Fatalf("exit code %d, state %q, reason %q; want %d, partial, timeout\nstderr:\n%s", r.Code, r.Meta.State, r.Meta.Reason, cli.ExitPartial, r.Stderr)
	}
	if errs := only[*finding.Error](r.Findings); len(errs) > 0 {
		t.Errorf("error findings %+v, want none", errs)
	}
	warnings := map[string]bool{}
	for _, w := range only[*finding.Warning](r.Findings) {
		warnings[w.Message] = true
	}
	// Two warnings: the limit, and the unfinished XML report (read as far
	// as it goes).
	timeLimit := "nmap was stopped after reaching its time limit 3s; the findings so far are kept"
	if len(warnings) != 2 || !warnings[timeLimit] {
		t.Errorf("warnings %q, want the time limit one and one about the truncated XML", sortedKeys(warnings))
	}
	for w := range warnings {
		if w != timeLimit && !strings.Contains(w, "nmap XML truncated at byte ") {
			t.Errorf("warning %q, want one about the truncated XML", w)
		}
	}
	// The run directory keeps the target and nmap's XML as far as it got.
	if tgts := only[*finding.Target](r.Findings); len(tgts) != 1 || tgts[0].Name != "127.0.0.1" {
		t.Errorf("target findings %+v, want 127.0.0.1", tgts)
	}
	xml := r.rawFile(t, "output.xml")
	if !strings.Contains(xml, "<nmaprun") || strings.Contains(xml, "</nmaprun>") {
		t.Errorf("raw/output.xml should be nmap's unfinished report:\n%s", xml)
	}
	for _, p := range only[*finding.Port](r.Findings) {
		if p.IP != "127.0.0.1" || p.State != "open" {
			t.Errorf("port finding %+v from the truncated report", *p)
		}
	}
	if _, err := os.Stat(filepath.Join(r.Dir, report.CommandFile)); err != nil {
		t.Errorf("command.txt: %v", err)
	}
}
