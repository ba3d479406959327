//go:build !race

package task

// maxProbeRSS is the peak RSS allowed to the process of TestRunDocumentRSS
// (109 MiB measured; before the bound, more than 300 MiB).
const maxProbeRSS = 160 << 20
