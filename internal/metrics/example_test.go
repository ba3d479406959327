package metrics_test

import (
	"os"

	"github.com/sortie-sec/sortie/internal/metrics"
)

func Example() {
	reg := metrics.NewRegistry()
	scans := reg.Counter("sortie_scans_total", "Scans finished, by tool.", "tool")

	scans.With("nmap").Inc()
	scans.With("nmap").Inc()
	scans.With("httpx").Add(3)

	// In a server, mount reg.Handler() at /metrics instead.
	if _, err := reg.WriteTo(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// # HELP sortie_scans_total Scans finished, by tool.
	// # TYPE sortie_scans_total counter
	// sortie_scans_total{tool="httpx"} 3
	// sortie_scans_total{tool="nmap"} 2
}
