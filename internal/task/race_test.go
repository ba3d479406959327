//go:build race

package task

// maxProbeRSS is the peak RSS allowed to the process of TestRunDocumentRSS;
// the race detector's shadow memory adds to it (132 MiB measured).
const maxProbeRSS = 200 << 20
