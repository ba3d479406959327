package engine

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/signing"
)

// plannedChunk is a signed planned chunk of targets, as a worker's Verify
// leaves it.
func plannedChunk(t testing.TB, targets ...string) (*Chunk, *signing.Key) {
	key, err := signing.NewKeyFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &Chunk{Run: "r1", Task: "1", ID: "3", Index: 3, Of: 4, Pool: DefaultPool, Tool: "faketool", Targets: targets}
	b, _ := json.Marshal(c)
	c.sign(key, b)
	return c, key
}

// A continuation of a continuation still carries the planned chunk's body
// and signature, and names the right targets of it.
func TestContinuationsNarrowTheSignedChunk(t *testing.T) {
	t.Parallel()
	c, key := plannedChunk(t, "a", "b", "c", "d", "e")
	trust := signing.NewTrust(key.Public())
	hop := func(c *Chunk, id string, remainder ...string) *Chunk {
		t.Helper()
		n, err := c.continuation(id, remainder)
		if err != nil {
			t.Fatal(err)
		}
		m, err := n.message()
		if err != nil {
			t.Fatal(err)
		}
		if err := trust.Verify(key.Public(), chunkDomain, m.Data, m.Header.Get(headerSignature)); err != nil {
			t.Fatalf("the continuation's signature: %v", err)
		}
		planned, err := DecodeChunk(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := narrow(planned, m.Data, m.Header.Get(headerSigner), m.Header.Get(headerSignature), m.Header.Get(headerContinuation), m.Header.Get(headerRemaining))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != id || got.Parent != c.ID || got.Index != -1 || !slices.Equal(got.Targets, remainder) {
			t.Fatalf("continuation %s: %+v, want parent %s and targets %q", id, got, c.ID, remainder)
		}
		return got
	}
	first := hop(c, "3r1", "b", "d", "e")
	second := hop(first, "3r1r2", "d", "e")
	hop(second, "3r1r2r1", "e")
	if _, err := first.continuation("3r1r1", []string{"a"}); err == nil {
		t.Error("a continuation took a target its chunk did not have")
	}
	if _, err := (&Chunk{Run: "r1", Task: "1", ID: "0", Targets: []string{"a"}}).continuation("0r1", []string{"a"}); err == nil {
		t.Error("an unsigned chunk was continued")
	}
}

func TestContinuationParent(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{"3r1": "3", "3r1r2": "3r1", "3r12r3": "3r12"} {
		if got, ok := continuationParent("3", id); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", id, got, ok, want)
		}
	}
	for _, id := range []string{"3", "4r1", "3r", "3r0", "3rr1", "3x1", "3r1x", "3r01", "3r1-"} {
		if got, ok := continuationParent("3", id); ok {
			t.Errorf("%s: accepted as a continuation of 3 (parent %q)", id, got)
		}
	}
}

// FuzzNarrow: whatever continuation headers a worker (or anyone) sends
// with a signed chunk, the chunk that results runs only targets of the
// signed chunk, in order, once each, under an id derived from the signed
// one.
func FuzzNarrow(f *testing.F) {
	c, _ := plannedChunk(f, "a", "b", "c", "d", "e", "f", "g", "h", "i")
	n, _ := c.continuation("3r1", []string{"b", "i"})
	m, _ := n.message()
	f.Add("3r1", m.Header.Get(headerRemaining))
	f.Add("", "")
	f.Add("3r1r1", "//8=")
	f.Add("3r1", "AAA=")
	f.Add("3r1", "gAE=")
	f.Fuzz(func(t *testing.T, id, remaining string) {
		got, err := narrow(c, c.sig.body, c.sig.signer, c.sig.sig, id, remaining)
		if err != nil {
			return
		}
		if id == "" {
			if got.ID != c.ID || !slices.Equal(got.Targets, c.Targets) {
				t.Fatalf("planned chunk changed: %+v", got)
			}
			return
		}
		if !strings.HasPrefix(got.ID, c.ID+"r") || got.Index != -1 || len(got.Targets) == 0 {
			t.Fatalf("continuation %+v", got)
		}
		j := 0
		for _, tg := range got.Targets {
			for j < len(c.Targets) && c.Targets[j] != tg {
				j++
			}
			if j == len(c.Targets) {
				t.Fatalf("targets %q are not a subsequence of %q", got.Targets, c.Targets)
			}
			j++
		}
	})
}
