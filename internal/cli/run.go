package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
)

// startRun plans a run in the engine and, unless detached, follows it to
// its end. Local mode embeds the engine and a worker in this process, with
// the engine's store in the run directory; with --server the run goes to
// the fleet and this process only watches it.
func startRun(ctx context.Context, g *globalOptions, out string, detach bool, concurrency int, rawLimit int64, meta *report.Meta, plan engine.TaskPlan) error {
	meta.ID = report.NewRunID(time.Now())
	p := engine.Plan{
		Run:   engine.RunRecord{ID: meta.ID, Kind: meta.Kind, Tool: meta.Tool, Targets: len(plan.Targets), Options: meta.Options},
		Tasks: []engine.TaskPlan{plan},
	}
	if detach {
		e, err := g.engine.connectSubmitter(ctx, g.logger())
		if err != nil {
			return err
		}
		defer e.Close()
		if err := e.Submit(ctx, p); err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, meta.ID)
		if !g.Quiet {
			fmt.Fprintf(g.stderr, "sortie: run %s submitted to %s; follow it with \"sortie runs attach %s\"\n", meta.ID, e.Origin(), meta.ID)
		}
		return nil
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rec, err := startRecorder(g, out, cancel, meta)
	if err != nil {
		return err
	}
	var e *engine.Engine
	if g.engine.remote() {
		e, err = g.engine.connectSubmitter(ctx, g.logger())
	} else {
		e, err = openLocal(ctx, rec.dir)
	}
	if err != nil {
		return errors.Join(err, rec.finish("failed", "engine", 0))
	}
	defer e.Close()
	if !e.Embedded() {
		if err := e.Submit(ctx, p); err != nil {
			return errors.Join(err, rec.finish("failed", "engine", 0))
		}
		return followRun(ctx, g, e, rec, true)
	}
	w, err := localWorker(ctx, g, e, rec.dir, concurrency, rawLimit)
	if err != nil {
		return errors.Join(err, rec.finish("failed", "engine", 0))
	}
	defer stopWorker(ctx, w)
	if err := e.Submit(ctx, p); err != nil {
		return errors.Join(err, rec.finish("failed", "engine", 0))
	}
	return followRun(ctx, g, e, rec, true)
}

// followRun shows a run's findings and commands as they arrive, writes them
// to the recorder's run directory, and waits for the run to finish. When ctx
// ends first (Ctrl-C) it cancels the run if cancelOnStop, else it leaves
// the run alone.
func followRun(ctx context.Context, g *globalOptions, e *engine.Engine, rec *recorder, cancelOnStop bool) error {
	id := rec.meta.ID
	bg := context.WithoutCancel(ctx)
	fctx, stopFollowing := context.WithCancel(bg)
	defer stopFollowing()
	var mu sync.Mutex // the two followers call back from their own goroutines
	var decodeErrs int
	findings, err := e.FollowFindings(fctx, id, func(b []byte) {
		f, err := finding.Decode(b)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			decodeErrs++
			return
		}
		rec.emit(f)
	})
	if err != nil {
		return err
	}
	events, err := e.FollowEvents(fctx, id, func(ev engine.Event) {
		if ev.Type != "chunk.command" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if slices.Contains(rec.meta.Commands, ev.Reason) {
			return // shown before this process followed the run (resume)
		}
		rec.meta.Commands = append(rec.meta.Commands, ev.Reason)
		_ = rec.dir.AppendLine(report.CommandFile, ev.Reason) // best effort, as run.json keeps them too
		rec.printer.Command(ev.Reason)
	})
	if err != nil {
		return err
	}

	run, err := e.WaitRun(ctx, id)
	if err != nil && ctx.Err() != nil {
		if !cancelOnStop {
			return fmt.Errorf("stopped following run %s; it goes on (sortie runs attach %s)", id, id)
		}
		if !g.Quiet {
			fmt.Fprintf(g.stderr, "sortie: cancelling run %s; partial findings are kept\n", id)
		}
		cctx, ccancel := context.WithTimeout(bg, 10*time.Second)
		_, cerr := e.CancelRun(cctx, id)
		ccancel()
		if cerr != nil {
			return fmt.Errorf("cancel run %s: %w", id, cerr)
		}
		wctx, wcancel := context.WithTimeout(bg, 2*time.Minute)
		run, err = e.WaitRun(wctx, id)
		wcancel()
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	sctx, scancel := context.WithTimeout(bg, 30*time.Second)
	defer scancel()
	if err := errors.Join(findings.Sync(sctx), events.Sync(sctx)); err != nil {
		return fmt.Errorf("read the findings of run %s: %w", id, err)
	}
	stopFollowing()
	mu.Lock()
	defer mu.Unlock()
	return finishRun(ctx, e, rec, run, decodeErrs)
}

// finishRun writes the final metadata of a followed run and maps its state
// to the command's result.
func finishRun(ctx context.Context, e *engine.Engine, rec *recorder, run engine.RunRecord, decodeErrs int) error {
	reason, garbage := string(run.State), 0
	chunks, _ := e.Chunks(context.WithoutCancel(ctx), run.ID)
	for _, c := range chunks {
		garbage += c.Garbage
		if c.ExitCode != 0 && rec.meta.ExitCode == 0 {
			rec.meta.ExitCode = c.ExitCode
		}
	}
	if len(chunks) == 1 {
		reason = chunks[0].Reason
	} else if len(chunks) > 1 {
		reason = chunkOutcomes(chunks)
	}
	state := string(run.State)
	name := rec.meta.Tool
	if err := rec.finish(state, reason, garbage); err != nil {
		return err
	}
	if decodeErrs > 0 {
		return fmt.Errorf("%d findings of run %s could not be read; the rest are in %s", decodeErrs, run.ID, rec.dir.Path)
	}
	if rec.outputErr() != nil {
		return fmt.Errorf("stopped %s: cannot write to the output (%w); the findings so far are in %s", name, rec.outputErr(), rec.dir.Path)
	}
	switch run.State {
	case engine.RunPartial, engine.RunCancelled:
		return partialError{fmt.Sprintf("%s: partial results (%s); findings in %s", name, reason, rec.dir.Path)}
	case engine.RunFailed:
		return fmt.Errorf("%s failed (%s, exit code %d); details in %s", name, reason, rec.meta.ExitCode, rec.dir.Path)
	}
	return nil
}

// chunkOutcomes summarises the chunks of a run: "3 done, 1 partial (evicted)".
func chunkOutcomes(chunks []engine.ChunkRecord) string {
	type key struct{ state, reason string }
	n := map[key]int{}
	var order []key
	for _, c := range chunks {
		k := key{string(c.State), c.Reason}
		if c.State == engine.ChunkDone {
			k.reason = ""
		}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	var parts []string
	for _, k := range order {
		p := fmt.Sprintf("%d %s", n[k], k.state)
		if k.reason != "" {
			p += " (" + k.reason + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("%d chunks: %s", len(chunks), strings.Join(parts, ", "))
}
