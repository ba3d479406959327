package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkProcess measures whole-process costs of the real binary: sortie
// --help, a tool run alone, and the same tool through "sortie x" (target
// validation, run directory, findings file, metadata). The overhead of sortie
// is the difference between the last two. The tool is mapcidr when installed
// (a real tool, a few lines of output) and cat otherwise.
//
//	go test -run XXX -bench Process -count 10 ./internal/cli/ | tee bench.txt
func BenchmarkProcess(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "sortie")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sortie").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	toolPath, toolArgs, sortieArgs := "", []string(nil), []string(nil)
	if p, err := exec.LookPath(filepath.Join(os.Getenv("HOME"), ".local/share/sortie/bin/mapcidr")); err == nil {
		toolPath = p
		toolArgs = []string{"-silent", "-duc", "-cidr", "127.0.0.0/29"}
		sortieArgs = []string{"x", "mapcidr", "127.0.0.0/29", "-q"}
	} else {
		tools := filepath.Join(dir, "tools")
		os.MkdirAll(tools, 0o755)
		os.WriteFile(filepath.Join(tools, "echo-ips.yaml"), []byte("name: echo-ips\nbinary: cat\ninputs: [ip]\ninput: {mode: stdin}\noutput: {format: lines}\nfindings:\n  - type: ip\n    fields: {ip: \"{line}\"}\n"), 0o644)
		toolPath, toolArgs = "/bin/cat", []string{"/dev/null"}
		sortieArgs = []string{"x", "echo-ips", "127.0.0.1", "-q", "--tools-dir", tools}
	}
	run := func(b *testing.B, path string, args ...string) {
		for b.Loop() {
			cmd := exec.Command(path, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", path, err, out)
			}
		}
	}
	b.Run("help", func(b *testing.B) { run(b, bin, "--help") })
	b.Run("tool-alone", func(b *testing.B) { run(b, toolPath, toolArgs...) })
	// The tool alone as sortie runs it: a fresh HOME and TMPDIR, where
	// tools create their config and state on first use. The difference to
	// sortie-x is sortie's own cost.
	b.Run("tool-fresh-home", func(b *testing.B) {
		for b.Loop() {
			home := b.TempDir()
			cmd := exec.Command(toolPath, toolArgs...)
			cmd.Dir = home
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home}
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", toolPath, err, out)
			}
		}
	})
	b.Run("sortie-x", func(b *testing.B) {
		runs := b.TempDir()
		i := 0
		for b.Loop() {
			i++
			args := append(append([]string(nil), sortieArgs...), "--out", filepath.Join(runs, "r"+strconv.Itoa(i)))
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				b.Fatalf("sortie: %v\n%s", err, out)
			}
		}
	})
}
