package runner

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// waitExited blocks until the child pid has exited, without reaping it
// (waitid with WNOWAIT), so that its pid and process group id stay
// reserved until cmd.Wait.
func waitExited(pid int) error {
	const pPID = 1     // P_PID
	var info [128]byte // siginfo_t, unused
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}

// sampleMemory measures the resident memory of the process tree of the
// group pgid every interval until stop is closed, closes over (once) when a
// sample exceeds limit (if limit > 0), and returns the peak.
func sampleMemory(pgid int, interval time.Duration, limit int64, stop <-chan struct{}, over chan<- struct{}) int64 {
	var s procScanner
	var peak int64
	signalled := false
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// The first scan waits one interval: a scan walks all of /proc, and
	// most short-lived tools (one chunk of a fast tool) are gone by then.
	select {
	case <-stop:
		return 0
	case <-tick.C:
	}
	for {
		rss := s.treeRSS(pgid)
		peak = max(peak, rss)
		if limit > 0 && rss > limit && !signalled {
			close(over)
			signalled = true
		}
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}

// procScanner reads /proc, reusing its buffers between scans.
type procScanner struct {
	buf      [1024]byte
	children map[int][]int
	members  map[int]bool
}

// treeRSS returns the summed RSS in bytes of the processes of group pgid
// and of every descendant of them, wherever their group. Processes that
// vanish during the scan are skipped.
func (s *procScanner) treeRSS(pgid int) int64 {
	d, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	names, _ := d.Readdirnames(-1)
	d.Close()

	if s.children == nil {
		s.children, s.members = make(map[int][]int), make(map[int]bool)
	}
	clear(s.children)
	clear(s.members)
	var queue []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		ppid, pgrp, ok := s.stat(pid)
		if !ok {
			continue
		}
		s.children[ppid] = append(s.children[ppid], pid)
		if pgrp == pgid || pid == pgid {
			s.members[pid] = true
			queue = append(queue, pid)
		}
	}
	for len(queue) > 0 {
		pid := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range s.children[pid] {
			if !s.members[c] {
				s.members[c] = true
				queue = append(queue, c)
			}
		}
	}

	var pages int64
	for pid := range s.members {
		pages += s.residentPages(pid)
	}
	return pages * int64(os.Getpagesize())
}

// read reads a small /proc file into s.buf.
func (s *procScanner) read(path string) []byte {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	n, err := syscall.Read(fd, s.buf[:])
	if err != nil || n <= 0 {
		return nil
	}
	return s.buf[:n]
}

// stat returns the parent pid and process group of pid from
// /proc/pid/stat: "pid (comm) state ppid pgrp ...", where comm may contain
// spaces and parentheses.
func (s *procScanner) stat(pid int) (ppid, pgrp int, ok bool) {
	b := s.read("/proc/" + strconv.Itoa(pid) + "/stat")
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	return ppid, pgrp, err1 == nil && err2 == nil
}

// residentPages returns the second field of /proc/pid/statm, or 0.
func (s *procScanner) residentPages(pid int) int64 {
	f := bytes.Fields(s.read("/proc/" + strconv.Itoa(pid) + "/statm"))
	if len(f) < 2 {
		return 0
	}
	n, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// signalName returns the conventional name of sig, e.g. "SIGTERM".
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGILL:
		return "SIGILL"
	case syscall.SIGTRAP:
		return "SIGTRAP"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGBUS:
		return "SIGBUS"
	case syscall.SIGFPE:
		return "SIGFPE"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	case syscall.SIGPIPE:
		return "SIGPIPE"
	case syscall.SIGALRM:
		return "SIGALRM"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGXCPU:
		return "SIGXCPU"
	case syscall.SIGXFSZ:
		return "SIGXFSZ"
	case syscall.SIGSYS:
		return "SIGSYS"
	}
	return "signal " + strconv.Itoa(int(sig))
}
