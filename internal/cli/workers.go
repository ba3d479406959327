package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/termsafe"
)

func newWorkersCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "workers",
		Short: "List the live workers of a server",
		Long: `List the workers connected to the server (--server): pool, concurrency, the
chunks they run and their last heartbeat. A worker that stops beating
disappears within 20 seconds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorkers(cmd.Context(), g)
		},
	}
}

func runWorkers(ctx context.Context, g *globalOptions) error {
	if !g.engine.remote() {
		return usageError{withHint(fmt.Errorf("no server: a local run has its worker inside its own sortie process"), "pass --server URL (or set SORTIE_SERVER)")}
	}
	e, err := g.engine.connect(ctx, g.logger())
	if err != nil {
		return err
	}
	defer e.Close()
	ws, err := e.Workers(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return writeJSONLines(jsonOut(g.stdout), ws)
	}
	if len(ws) == 0 {
		fmt.Fprintln(g.stderr, "sortie: no live workers")
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	sw := termsafe.NewWriter(tw) // what workers say of themselves
	fmt.Fprintln(tw, "WORKER\tPOOL\tSLOTS\tRUNNING\tHEARTBEAT\tHOST\tPID\tVERSION")
	for _, w := range ws {
		running := "-"
		if len(w.Running) > 0 {
			running = strings.Join(w.Running, ",")
		}
		state := ""
		if w.Stopping {
			state = " (stopping)"
		}
		fmt.Fprintf(sw, "%s%s\t%s\t%d/%d\t%s\t%s ago\t%s\t%d\t%s\n", w.ID, state, w.Pool, len(w.Running), w.Concurrency, running,
			time.Since(w.Heartbeat).Round(100*time.Millisecond), w.Host, w.PID, w.Version)
	}
	return nil
}
