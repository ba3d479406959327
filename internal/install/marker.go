package install

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/sortie-sec/sortie/internal/tool"
)

// markerPath is the marker file of binary in binDir: ".<binary>.version".
func markerPath(binDir, binary string) string {
	return filepath.Join(binDir, "."+binary+".version")
}

// markerFor returns the marker content for a Go recipe: "module@version"
// on the first line, then one line for each build setting that changes the
// binary (package, ldflags, environment). Two recipes that would build
// different binaries have different markers.
func markerFor(g *tool.GoInstall) string {
	var b strings.Builder
	b.WriteString(g.Module + "@" + g.Version + "\n")
	b.WriteString("package " + g.Package + "\n")
	if g.LDFlags != "" {
		b.WriteString("ldflags " + g.LDFlags + "\n")
	}
	for _, e := range g.Env {
		b.WriteString("env " + e + "\n")
	}
	return b.String()
}

// upToDate reports whether bin is an executable file and marker holds
// exactly want.
func upToDate(bin, marker, want string) bool {
	if !isExecutable(bin) {
		return false
	}
	got, err := os.ReadFile(marker)
	return err == nil && bytes.Equal(got, []byte(want))
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
