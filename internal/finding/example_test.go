package finding_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
)

// A parser builds a typed finding; Stamp normalises it and gives it its
// deterministic id, so the same port reported twice has one id.
func ExampleStamp() {
	scope := finding.Scope{Run: "20261128-163200-a1b2c3", Source: finding.Source{Tool: "naabu"}}
	ts := time.Date(2026, 11, 28, 16, 32, 0, 0, time.UTC)
	a := &finding.Port{IP: "::ffff:127.0.0.1", Port: 8080, Meta: finding.Meta{TS: ts}}
	b := &finding.Port{IP: "127.0.0.1", Port: 8080, Protocol: "TCP", Meta: finding.Meta{TS: ts}}
	finding.Stamp(a, scope, ts)
	finding.Stamp(b, scope, ts)
	out, _ := json.Marshal(a)
	fmt.Println(string(out))
	fmt.Println(a.ID == b.ID)
	// Output:
	// {"_type":"port","_id":"32c201c1faa49c8568cdf1306566127d","_source":{"tool":"naabu"},"_run":"20261128-163200-a1b2c3","_ts":"2026-11-28T16:32:00Z","ip":"127.0.0.1","port":8080,"protocol":"tcp","state":"open"}
	// true
}
