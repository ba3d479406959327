package testtarget

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// EnvServe is the environment variable that makes MaybeServe turn the
// running binary into a target process. Its value is "1" (free ports) or
// "http=PORT,https=PORT" (either may be left out).
const EnvServe = "SORTIE_TESTTARGET"

// Serve starts a target, writes its Info to out as one JSON line once both
// servers listen, and runs until ctx is done.
func Serve(ctx context.Context, opts Options, out io.Writer) error {
	t, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer t.Close()
	line, err := json.Marshal(t.Info)
	if err != nil {
		return err
	}
	if _, err := out.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("testtarget: write info: %w", err)
	}
	<-ctx.Done()
	return nil
}

// ReadInfo reads the Info line a target process printed (see MaybeServe).
func ReadInfo(r io.Reader) (Info, error) {
	line, err := bufio.NewReader(r).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return Info{}, fmt.Errorf("testtarget: read info: %w", err)
	}
	var info Info
	if err := json.Unmarshal(line, &info); err != nil {
		return Info{}, fmt.Errorf("testtarget: read info: %w", err)
	}
	return info, nil
}

// MaybeServe is the entry point of a target process, for integration tests
// that need the target in another process (inside a loopback-only network
// namespace made with "unshare -n", next to the tool under test). Call it
// first thing in TestMain; when EnvServe is set, the test binary serves a
// target instead of running tests: it prints the target's Info as one JSON
// line on stdout (read it with ReadInfo) and serves until SIGINT or SIGTERM,
// or until its stdin, when that is a pipe, reaches end of file (so the
// target dies with the test that started it), then exits. Without EnvServe,
// MaybeServe returns at once.
func MaybeServe() {
	spec, ok := os.LookupEnv(EnvServe)
	if !ok {
		return
	}
	opts, err := parseServeSpec(spec)
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		ctx = stopOnStdinEOF(ctx)
		err = Serve(ctx, opts, os.Stdout)
		stop()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testtarget: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// stopOnStdinEOF returns a context that also ends when stdin, if it is a
// pipe, reaches end of file.
func stopOnStdinEOF(ctx context.Context) context.Context {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx
}

// parseServeSpec reads EnvServe's value.
func parseServeSpec(spec string) (Options, error) {
	var opts Options
	if spec == "" || spec == "1" {
		return opts, nil
	}
	var errs []error
	for _, field := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		port, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a port", EnvServe, field))
			continue
		}
		switch k {
		case "http":
			opts.HTTPPort = port
		case "https":
			opts.HTTPSPort = port
		default:
			errs = append(errs, fmt.Errorf("%s: unknown key %q (want http or https)", EnvServe, k))
		}
	}
	return opts, errors.Join(errs...)
}
