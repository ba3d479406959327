package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzLoadConfig(f *testing.F) {
	f.Add("server: nats://127.0.0.1:4222\nworker:\n  concurrency: 8\n")
	f.Add("x:\n  chunk_size: 1\nconcurrency: [1, 2]\n")
	f.Add("- a\n- b\n")
	f.Add("a: {b: {c: d}}\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path, true)
		if err != nil {
			if _, ok := err.(usageError); !ok {
				t.Fatalf("config error is not a usage error: %T %v", err, err)
			}
			return
		}
		for section, keys := range cfg {
			for k, v := range keys {
				if k == "" && section == "" && v.line == 0 {
					t.Fatalf("key without position: %+v", v)
				}
			}
		}
	})
}

func TestConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("concurrency: 3\nworker:\n  concurrency: 5\n  lease: 10s\n"), 0o600)
	cfg, err := loadConfig(path, true)
	if err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{}
	root, err := newRootCommand(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	wcmd, _, err := root.Find([]string{"worker"})
	if err != nil {
		t.Fatal(err)
	}
	// The command line wins over the environment, which wins over the
	// command's section, which wins over the top level.
	if err := wcmd.Flags().Set("grace", "7s"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SORTIE_GRACE", "9s")
	t.Setenv("SORTIE_MAX_ATTEMPTS", "4")
	if err := applySettings(wcmd, cfg, path); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"grace": "7s", "max-attempts": "4", "concurrency": "5", "lease": "10s"} {
		if got := wcmd.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %s, want %s", flag, got, want)
		}
	}
}
