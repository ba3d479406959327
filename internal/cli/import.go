package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/tool"
)

type importOptions struct {
	// Out is the run directory. Defaults to a new one under the data
	// directory.
	Out string
}

func newImportCommand(g *globalOptions) *cobra.Command {
	opts := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import TOOL FILE",
		Short: "Normalise the output of a tool run elsewhere into findings",
		Long: `Read a saved output of TOOL (the format sortie runs it with: JSON lines, a JSON
or XML report, or text; "-" reads stdin) and normalise it into findings with
the same parsers "sortie x" uses. Lines that cannot be read are counted and
skipped.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("import needs TOOL and FILE, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), g, opts, args[0], args[1])
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write the run directory to `DIR`")
	return cmd
}

func runImport(ctx context.Context, g *globalOptions, opts *importOptions, toolName, file string) error {
	d, err := g.registry.Get(toolName)
	if err != nil {
		return toolError(err)
	}
	in := bufio.NewReader(g.stdin)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return usageError{fmt.Errorf("import: %w", err)}
		}
		defer f.Close()
		in = bufio.NewReader(f)
	}
	if _, err := in.Peek(1); err == io.EOF {
		return usagef("import: %s is empty", file)
	} else if err != nil {
		return usageError{fmt.Errorf("import: read %s: %w", file, err)}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rec, err := startRecorder(g, opts.Out, cancel, &report.Meta{Kind: "import", Tool: d.Name, Targets: []string{file}})
	if err != nil {
		return err
	}
	scope := rec.scope()
	st, parseErr := tool.ParseOutput(d, &tool.ParseContext{}, ctxReader{ctx, in}, func(f finding.Finding) {
		finding.Stamp(f, scope, time.Now())
		rec.emit(f)
	})
	if msg := st.Summary(d.Name); msg != "" {
		w := &finding.Warning{Message: msg}
		finding.Stamp(w, scope, time.Now())
		rec.emit(w)
	}
	state := "done"
	if parseErr != nil {
		state = "partial"
	}
	if err := rec.finish(state, "", st.Garbage); err != nil {
		return err
	}
	dir := rec.dir
	switch {
	case rec.outputErr() != nil:
		return fmt.Errorf("import %s: cannot write to the output (%w); the findings so far are in %s", file, rec.outputErr(), dir.Path)
	case st.Findings == 0 && st.Garbage > 0:
		return fmt.Errorf("import %s: no %s output found (%d unreadable lines, first: %v)", file, d.Name, st.Garbage, st.FirstError)
	case parseErr != nil:
		return partialError{fmt.Sprintf("import %s: %v; what could be read is in %s", file, parseErr, dir.Path)}
	}
	return nil
}

// ctxReader stops a long import when the context is cancelled (Ctrl-C, or
// the output closed).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := context.Cause(c.ctx); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
