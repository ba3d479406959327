package worker

import "testing"

func TestMentions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		line, target string
		want         bool
	}{
		{`{"url":"http://127.0.0.1/0"}`, "127.0.0.1", true},
		{`{"url":"http://127.0.0.10/0"}`, "127.0.0.1", false},
		{`{"url":"http://127.0.0.10/0","host":"127.0.0.1"}`, "127.0.0.1", true},
		{`{"host":"sub.example.com"}`, "example.com", false},
		{`{"host":"example.com.evil"}`, "example.com", false},
		{`{"host":"example.com:8443"}`, "example.com", true},
		{`{"url":"http://a.example/x"}`, "http://a.example/", true},
		{`{"url":"http://a.example/x"}`, "http://a.example", true},
		{`{"url":"http://a.example.evil/x"}`, "http://a.example", false},
		{`127.0.0.1`, "127.0.0.1", true},
		{`{"ip":"10.0.0.1"}`, "", false},
	} {
		if got := mentions([]byte(c.line), []byte(c.target)); got != c.want {
			t.Errorf("mentions(%s, %q) = %v, want %v", c.line, c.target, got, c.want)
		}
	}
}
