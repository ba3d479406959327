package engine_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sortie-sec/sortie/internal/engine"
)

var update = flag.Bool("update", false, "rewrite deploy/nats/roles.conf")

// placeholders stand for the roles' public nkeys in deploy/nats/roles.conf.
var placeholders = map[engine.Role]string{
	engine.RoleOperator:  "OPERATOR_PUBLIC_NKEY",
	engine.RoleSubmitter: "SUBMITTER_PUBLIC_NKEY",
	engine.RoleWorker:    "WORKER_PUBLIC_NKEY",
}

// deploy/nats/roles.conf is RolesConfig with placeholders, and a stock
// NATS server reading it (keys filled in) gives each role the permissions
// "sortie server --auth-dir" gives it.
func TestRolesConfigTemplate(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "deploy", "nats", "roles.conf")
	want := engine.RolesConfig(placeholders)
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date: go test ./internal/engine -run TestRolesConfigTemplate -update", path)
	}
	auth, err := engine.LoadAuthDir(filepath.Join(t.TempDir(), "auth"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(got)
	for r, p := range placeholders {
		conf = strings.ReplaceAll(conf, p, auth.Keys[r])
	}
	file := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(file, []byte("jetstream: enabled\ninclude ./roles.conf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(file), "roles.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Nkeys) != len(engine.Roles) {
		t.Fatalf("%d users, want %d", len(opts.Nkeys), len(engine.Roles))
	}
	for _, u := range opts.Nkeys {
		var role engine.Role
		for r, k := range auth.Keys {
			if k == u.Nkey {
				role = r
			}
		}
		want := engine.RolePermissions(role, u.Nkey)
		if (want == nil) != (u.Permissions == nil) {
			t.Fatalf("%s: permissions %v, want %v", role, u.Permissions, want)
		}
		if want == nil {
			continue
		}
		for _, pair := range [][2]*server.SubjectPermission{{want.Publish, u.Permissions.Publish}, {want.Subscribe, u.Permissions.Subscribe}} {
			w, g := slices.Sorted(slices.Values(pair[0].Allow)), slices.Sorted(slices.Values(pair[1].Allow))
			if !slices.Equal(w, g) {
				t.Errorf("%s: allow %v, want %v", role, g, w)
			}
		}
	}
}
