// Package chaos tests sortie's reliability contract (DESIGN §4) the way it
// is broken in production: "sortie server" and "sortie worker" run as
// separate processes and receive real signals — SIGTERM, SIGKILL, SIGSTOP
// and SIGCONT — while a run is in flight; servers are restarted and cluster
// leaders killed; submitting CLIs die; poison messages are published
// straight to the work queue. Each test then checks the run's final state,
// every chunk's state and attempts, the dead letters, and the exact set of
// findings: nothing lost that a finalised chunk could have produced, and no
// finding stored twice.
//
// The package has only tests; they run on loopback.
package chaos
