package chaos_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/engine"
)

// Dead letters of work messages that carry secrets (a sensitive header, a
// proxy's password, a credential option of a tool the worker does not
// know) keep none of them, whether the message could be read or not: not
// in the dead letter's payload or reason, not in the worker's log.
func TestDeadLettersKeepNoSecret(t *testing.T) {
	t.Parallel()
	const (
		token    = "s3cr3t-T0K3N-0123456789"
		password = "pr0xy-pa55w0rd"
		apiKey   = "k3y-0123456789abcdef"
	)
	secrets := []string{token, password, apiKey}
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)
	w := worker(t, "w-redact", url, "--log-level", "debug")

	chunk := func(pool string, targets ...string) []byte {
		b, _ := json.Marshal(engine.Chunk{Run: "leak", Task: "1", ID: pool, Of: 1, Pool: pool, Tool: "faketool", Targets: targets,
			Options: map[string][]string{
				"header": {"Authorization: Bearer " + token, "X-Other: x"},
				"proxy":  {"http://alice:" + password + "@127.0.0.1:3128"},
				"lines":  {"1"},
			}})
		return b
	}
	good := chunk(engine.DefaultPool, "127.0.0.1")
	raw := map[string][]byte{
		// Not JSON: a prefix, or cut short in the middle of the header.
		"garbage":   append([]byte("garbage "), good...),
		"cut":       good[:strings.Index(string(good), token)+5],
		"unknown":   []byte(`{"tool":"mystery","options":{"api_key":["` + apiKey + `"],"auth":"Bearer ` + token + `"}` + ` trailing`),
		"otherpool": chunk("elsewhere", "127.0.0.1"),
		"oversized": chunk(engine.DefaultPool, strings.Repeat("a", engine.MaxChunkBytes)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	for name, b := range raw {
		if _, err := js.Publish(ctx, "sortie.work."+engine.DefaultPool, b); err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
	}
	queueDrained(t, js)

	dls := deadLetters(t, e, "")
	if len(dls) != len(raw) {
		t.Errorf("%d dead letters, want %d: %+v", len(dls), len(raw), dls)
	}
	var kept int
	for _, dl := range dls {
		b, _ := json.Marshal(dl)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("dead letter keeps %q: %s", s, b)
			}
		}
		if dl.Payload != "" {
			kept++
		}
		if len(dl.Payload) > engine.MaxPayload {
			t.Errorf("payload of %d bytes", len(dl.Payload))
		}
	}
	// Still useful: the payloads are kept, masked.
	if kept != len(raw) {
		t.Errorf("%d of %d dead letters keep a payload", kept, len(raw))
	}
	for _, s := range secrets {
		if strings.Contains(w.Output(), s) {
			t.Errorf("the worker's log shows %q", s)
		}
	}
}
