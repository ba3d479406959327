package signing

import (
	"bytes"
	"testing"
)

// BenchmarkSignVerify is the per-chunk cost signing adds: the submitter signs
// once, the worker verifies once. The body is the size of a chunk of 100
// URL targets.
func BenchmarkSignVerify(b *testing.B) {
	k, err := Generate()
	if err != nil {
		b.Fatal(err)
	}
	trust := NewTrust(k.Public())
	body := bytes.Repeat([]byte(`"http://127.0.0.1:8080/some/path",`), 100)
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			k.SignText("bench", body)
		}
	})
	sig := k.SignText("bench", body)
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := trust.Verify(k.Public(), "bench", body, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
