package finding

import (
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite docs/schema/findings.schema.json")

const schemaPath = "../../docs/schema/findings.schema.json"

func TestSchemaInSync(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/finding -update)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is stale: run go test ./internal/finding -update", schemaPath)
	}
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["version"] != SchemaVersion {
		t.Errorf("schema version = %v, want %s", doc["version"], SchemaVersion)
	}
	if n := len(doc["$defs"].(map[string]any)); n != len(Types()) {
		t.Errorf("schema has %d types, want %d", n, len(Types()))
	}
}

// TestIdentityFieldsMatchMethods fills each declared identity field with a
// distinct value and checks that Identity returns exactly those values, so
// IdentityFields (published in the schema) cannot drift from the code.
func TestIdentityFieldsMatchMethods(t *testing.T) {
	t.Parallel()
	for _, typ := range Types() {
		f := New(typ)
		v := reflect.ValueOf(f).Elem()
		var want []string
		for i, name := range IdentityFields[typ] {
			if name == "_ts" {
				ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				f.Base().TS = ts
				want = append(want, ts.Format(time.RFC3339Nano))
				continue
			}
			field := fieldByJSON(v, name)
			if !field.IsValid() {
				t.Fatalf("%s: identity field %q is not a field", typ, name)
			}
			switch field.Kind() {
			case reflect.String:
				s := "v" + strconv.Itoa(i)
				field.SetString(s)
				want = append(want, s)
			case reflect.Int:
				field.SetInt(int64(100 + i))
				want = append(want, strconv.Itoa(100+i))
			default:
				t.Fatalf("%s.%s: unsupported kind %s", typ, name, field.Kind())
			}
		}
		got := f.Identity()
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: Identity() = %q, want %q", typ, got, want)
		}
	}
}

func fieldByJSON(v reflect.Value, name string) reflect.Value {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == name {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

func TestIDDeterministicAndScoped(t *testing.T) {
	t.Parallel()
	mk := func(run, ip string, port int) string {
		p := &Port{IP: ip, Port: port}
		Stamp(p, Scope{Run: run, Source: Source{Tool: "naabu"}}, time.Now())
		return p.ID
	}
	a := mk("r1", "127.0.0.1", 80)
	if a != mk("r1", "127.0.0.1", 80) {
		t.Error("same finding, different ids")
	}
	if a != mk("r1", "::ffff:127.0.0.1", 80) {
		t.Error("IPv4-mapped address not normalised into the same id")
	}
	if a == mk("r2", "127.0.0.1", 80) {
		t.Error("different runs share an id")
	}
	if a == mk("r1", "127.0.0.1", 81) {
		t.Error("different ports share an id")
	}
	if len(a) != 32 {
		t.Errorf("id %q is not 32 hex characters", a)
	}
	// Length prefixes keep field boundaries apart.
	if ID("r", TypeTag, []string{"ab", "c"}) == ID("r", TypeTag, []string{"a", "bc"}) {
		t.Error("field boundaries are ambiguous")
	}
}

func TestURLNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                string
		url, host, scheme string
		port              int
		path              string
	}{
		{"HTTP://Example.COM", "http://example.com/", "example.com", "http", 80, "/"},
		{"https://example.com:443/a?b=C", "https://example.com/a?b=C", "example.com", "https", 443, "/a"},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x", "127.0.0.1", "http", 8080, "/x"},
		{"https://[::1]:8443/", "https://[::1]:8443/", "::1", "https", 8443, "/"},
		{"http://example.com./", "http://example.com/", "example.com", "http", 80, "/"},
	}
	for _, tt := range tests {
		u := &URL{URL: tt.in}
		u.Normalize()
		if u.URL != tt.url || u.Host != tt.host || u.Scheme != tt.scheme || u.Port != tt.port || u.Path != tt.path {
			t.Errorf("%s -> %s %s %s %d %s", tt.in, u.URL, u.Host, u.Scheme, u.Port, u.Path)
		}
	}
}

func TestSeverity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		cvss float64
		want string
		rank int
	}{
		{"HIGH", 0, "high", 4}, {"Critical", 0, "critical", 5}, {"informational", 0, "info", 1},
		{"moderate", 0, "medium", 3}, {"", 9.8, "critical", 5}, {"", 7.5, "high", 4},
		{"", 5, "medium", 3}, {"", 2, "low", 2}, {"", 0, "unknown", 0}, {"weird", 0, "unknown", 0},
	}
	for _, tt := range tests {
		v := &Vulnerability{Name: "x", Severity: tt.in, CVSSScore: tt.cvss}
		v.Normalize()
		if v.Severity != tt.want || v.SeverityRank != tt.rank {
			t.Errorf("severity(%q, %v) = %s/%d, want %s/%d", tt.in, tt.cvss, v.Severity, v.SeverityRank, tt.want, tt.rank)
		}
	}
}

func TestTechnologySplit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"Nginx:1.18.0": {"Nginx", "1.18.0"}, "nginx/1.18.0": {"nginx", "1.18.0"}, "MySQL": {"MySQL", ""},
		"Bootstrap:4": {"Bootstrap", "4"}, "Google Font API": {"Google Font API", ""}, "a:b": {"a:b", ""},
	} {
		p, v := SplitTechnology(in)
		if p != want[0] || v != want[1] {
			t.Errorf("SplitTechnology(%q) = %q, %q", in, p, v)
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"2027-11-28T15:16:51Z", "2027-11-28 15:16:51", "Nov 28 15:16:51 2027 GMT", "2027-11-28"} {
		tm, ok := ParseTime(s)
		if !ok || tm.Year() != 2027 || tm.Month() != 11 || tm.Day() != 28 {
			t.Errorf("ParseTime(%q) = %v, %v", s, tm, ok)
		}
	}
	if _, ok := ParseTime("not a date"); ok {
		t.Error("garbage parsed as a date")
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	na := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	in := []Finding{
		&URL{URL: "http://a.example/x", StatusCode: 200, Tech: []string{"nginx"}},
		&Port{IP: "10.0.0.1", Port: 22, ServiceName: "ssh"},
		&Vulnerability{Name: "x", MatchedAt: "http://a/", Severity: "High", Tags: []string{"t"}},
		&Certificate{Host: "a.example", Port: 443, FingerprintSHA256: "AB:CD", NotAfter: &na},
		&Error{Message: "boom", OutputTail: []string{"l1"}},
	}
	for _, f := range in {
		Stamp(f, Scope{Run: "r", Task: "t", Source: Source{Tool: "x", Step: "s"}}, time.Now())
		data, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"_type":"`+string(f.Kind())+`"`) || !strings.Contains(string(data), `"_source":{"tool":"x","step":"s"}`) {
			t.Errorf("encoding lacks meta: %s", data)
		}
		back, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, f) {
			t.Errorf("round trip changed the finding:\n got %#v\nwant %#v", back, f)
		}
	}
	if _, err := Decode([]byte(`{"_type":"nope"}`)); err == nil {
		t.Error("unknown type decoded")
	}
	if _, err := Decode([]byte(`{`)); err == nil {
		t.Error("broken JSON decoded")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"_type":"url","url":"http://a/"}`))
	f.Add([]byte(`{"_type":"port","ip":"1.2.3.4","port":80}`))
	f.Add([]byte(`{"_type":"vulnerability","name":"x","severity":"HIGH","cvss_score":9.1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fd, err := Decode(data)
		if err != nil {
			return
		}
		Stamp(fd, Scope{Run: "r"}, time.Now())
		if len(fd.Identity()) != len(IdentityFields[fd.Kind()]) {
			t.Fatalf("identity length mismatch for %s", fd.Kind())
		}
		if _, err := json.Marshal(fd); err != nil {
			t.Fatal(err)
		}
	})
}
