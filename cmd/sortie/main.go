// Command sortie runs security tools as tasks and normalises their output
// into one typed findings schema. See the README for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sortie-sec/sortie/internal/cli"
)

func main() {
	// A closed stdout (sortie x ... | head) must not kill sortie before it
	// has stopped the tool and written its findings: with SIGPIPE notified,
	// writes fail with EPIPE instead, and the printer stops the run.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// The first SIGINT/SIGTERM cancels the context: running tools are stopped
	// and their partial findings kept. A second one kills sortie at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
