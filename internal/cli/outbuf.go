package cli

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// outBuffer buffers findings written to a pipe or a file: one write per
// finding costs a system call each, which halves the speed of a large
// import. What is buffered reaches the reader within flushDelay, so a
// pipeline (sortie x ... --json | jq) still streams.
type outBuffer struct {
	mu    sync.Mutex
	w     *bufio.Writer
	timer *time.Timer
	err   error
	// onErr is told the first error, also one met by a timed flush, when
	// no write is there to return it.
	onErr func(error)
}

const flushDelay = 100 * time.Millisecond

func newOutBuffer(w io.Writer, onErr func(error)) *outBuffer {
	return &outBuffer{w: bufio.NewWriterSize(w, 64<<10), onErr: onErr}
}

// fail records the first error; b.mu is held.
func (b *outBuffer) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
		if b.onErr != nil {
			go b.onErr(err) // not under b.mu: the callback may stop the run
		}
	}
}

// Write buffers p. It returns the first error the underlying writer gave,
// so a closed pipe stops the run at the next finding.
func (b *outBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.w.Write(p)
	if err != nil {
		b.fail(err)
		return n, err
	}
	if b.timer == nil && b.w.Buffered() > 0 {
		b.timer = time.AfterFunc(flushDelay, func() { _ = b.Flush() })
	}
	return n, nil
}

// Flush writes what is buffered.
func (b *outBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if b.err == nil {
		b.fail(b.w.Flush())
	}
	return b.err
}
