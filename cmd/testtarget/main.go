// Command testtarget serves sortie's loopback test site (HTTP and HTTPS on
// 127.0.0.1) until interrupted. It prints where it listens: one JSON line, or
// shell variable assignments with -env. The demo script and manual tests use
// it; the integration tests start the same site in process.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sortie-sec/sortie/internal/testtarget"
)

func main() {
	httpPort := flag.Int("http-port", 0, "HTTP port on 127.0.0.1 (0: any free port)")
	httpsPort := flag.Int("https-port", 0, "HTTPS port on 127.0.0.1 (0: any free port)")
	env := flag.Bool("env", false, "print HTTP_URL=... and HTTPS_URL=... lines instead of JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := testtarget.Options{HTTPPort: *httpPort, HTTPSPort: *httpsPort}
	var err error
	if *env {
		err = serveEnv(ctx, opts, os.Stdout)
	} else {
		err = testtarget.Serve(ctx, opts, os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testtarget: error: %v\n", err)
		os.Exit(1)
	}
}

func serveEnv(ctx context.Context, opts testtarget.Options, out io.Writer) error {
	t, err := testtarget.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer t.Close()
	fmt.Fprintf(out, "HTTP_URL=%s\nHTTPS_URL=%s\nCERT_SHA256=%s\n", t.HTTPURL, t.HTTPSURL, t.CertFingerprintSHA256)
	if f, ok := out.(*os.File); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	return nil
}
