package runner

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// drainLimit bounds what a cut pipeReader still reads: the default maximum
// pipe size, so everything a dead tool left in the pipe fits.
const drainLimit = 1 << 20

// pipeReader reads the read end of an output pipe until EOF. After cut it
// no longer waits for data: it returns what is already buffered in the pipe
// (at most drainLimit bytes) and then EOF. A process that escaped the group
// and keeps the write end open therefore cannot block Run, while output the
// tool wrote before it died is still delivered, however slow the callbacks.
type pipeReader struct {
	f       *os.File
	cutting atomic.Bool
	cut     bool // only used by the reading goroutine
	drained int
}

var _ io.Reader = (*pipeReader)(nil)

// stopWaiting makes Read stop waiting for data. It may be called from any
// goroutine, once.
func (p *pipeReader) stopWaiting() {
	// The deadline is set before the flag: a Read that sees the flag can
	// then clear the deadline without stopWaiting setting it again.
	_ = p.f.SetReadDeadline(time.Now()) // wakes a blocked Read
	p.cutting.Store(true)
}

func (p *pipeReader) Read(b []byte) (int, error) {
	if !p.cut && !p.cutting.Load() {
		n, err := p.f.Read(b)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
	}
	if !p.cut {
		p.cut = true
		if err := p.f.SetReadDeadline(time.Time{}); err != nil {
			return 0, err
		}
	}
	return p.drain(b)
}

// drain reads what is in the pipe now without waiting, returning EOF when
// it is empty or drainLimit is reached.
func (p *pipeReader) drain(b []byte) (int, error) {
	if p.drained >= drainLimit {
		return 0, io.EOF
	}
	b = b[:min(len(b), drainLimit-p.drained)]
	rc, err := p.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), b)
			if rerr != syscall.EINTR {
				return true // never wait for readiness
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == syscall.EAGAIN, rerr == nil && n == 0:
		return 0, io.EOF
	case rerr != nil:
		return 0, rerr
	}
	p.drained += n
	return n, nil
}
