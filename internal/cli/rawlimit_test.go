package cli

import "testing"

// FuzzParseRawLimit checks that --raw-limit is a positive size, 0 (keep
// none: -1) or empty (the default: 0), or an error, and never panics.
func FuzzParseRawLimit(f *testing.F) {
	for _, s := range []string{"0", "", "100MiB", "1.5GiB", "40B", "-1", "lots", "0B", "1e30GiB", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseRawLimit(s)
		if err == nil && n < -1 {
			t.Errorf("parseRawLimit(%q) = %d", s, n)
		}
	})
}
