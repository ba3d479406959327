package cli

import (
	"context"
	"fmt"
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

func runImport(_ context.Context, g *globalOptions, opts *importOptions, toolName, file string) error {
	d, err := g.registry.Get(toolName)
	if err != nil {
		return usageError{err}
	}
	r := g.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Size() == 0 {
			return fmt.Errorf("import: %s is empty", file)
		}
		r = f
	}
	rec, err := startRecorder(g, opts.Out, &report.Meta{Kind: "import", Tool: d.Name, Targets: []string{file}})
	if err != nil {
		return err
	}
	scope := rec.scope()
	st, parseErr := tool.ParseOutput(d, &tool.ParseContext{}, r, func(f finding.Finding) {
		finding.Stamp(f, scope, time.Now())
		rec.emit(f)
	})
	state := "done"
	if parseErr != nil || st.Garbage > 0 {
		state = "partial"
	}
	if err := rec.finish(state, "", st.Garbage); err != nil {
		return err
	}
	dir := rec.dir
	if parseErr != nil {
		return partialError{fmt.Sprintf("import %s: %v; what could be read is in %s", file, parseErr, dir.Path)}
	}
	if st.Findings == 0 && st.Garbage > 0 {
		return fmt.Errorf("import %s: no %s output found (%d unreadable lines, first: %v)", file, d.Name, st.Garbage, st.FirstError)
	}
	if st.Garbage > 0 {
		return partialError{fmt.Sprintf("import %s: %d unreadable lines skipped (first: %v)", file, st.Garbage, st.FirstError)}
	}
	return nil
}
