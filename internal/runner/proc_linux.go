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

// sample is what sampleMemory returns.
type sample struct {
	peak int64         // the largest RSS sampled
	seen map[proc]bool // the tree's processes seen by the scans, at most maxSeen
}

// maxSeen bounds sample.seen.
const maxSeen = 4096

// sampleMemory measures the resident memory of the process tree every
// interval until stop is closed, closes over (once) when a sample exceeds
// limit (if limit > 0), and returns the peak and the processes it saw.
func sampleMemory(tree tree, interval time.Duration, limit int64, stop <-chan struct{}, over chan<- struct{}) sample {
	var s procScanner
	var peak int64
	seen := map[proc]bool{}
	signalled := false
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// The first scan waits one interval: a scan walks all of /proc, and
	// most short-lived tools (one chunk of a fast tool) are gone by then.
	select {
	case <-stop:
		return sample{seen: seen}
	case <-tick.C:
	}
	for {
		rss := s.treeRSS(tree, nil)
		peak = max(peak, rss)
		for pid := range s.members {
			if len(seen) < maxSeen {
				seen[proc{pid, s.procs[pid].start}] = true
			}
		}
		if limit > 0 && rss > limit && !signalled {
			close(over)
			signalled = true
		}
		select {
		case <-stop:
			return sample{peak: peak, seen: seen}
		case <-tick.C:
		}
	}
}

// tree names the processes of one Run: the tool (the leader of group
// pgid), the members of its group, every descendant of them, and the
// children of this process (orphans re-parented to it as a subreaper) whose
// environment holds the Run's marker, with their descendants.
type tree struct {
	pgid   int
	marker []byte // "NAME=VALUE" of the Run's marker variable
}

// procInfo is what a scan learns of one process.
type procInfo struct {
	ppid, pgrp int
	start      uint64 // start time in clock ticks after boot: with the pid, it names the process
	zombie     bool
}

// procScanner reads /proc, reusing its buffers between scans.
type procScanner struct {
	buf      [1024]byte
	env      []byte
	procs    map[int]procInfo
	children map[int][]int
	members  map[int]bool
}

// scan reads every process of the system into s.procs, and returns the pids
// of tree's members (see tree), which stay valid until the next scan; the
// children of this process listed in seen are members too. Processes that
// vanish during the scan are skipped.
func (s *procScanner) scan(t tree, seen map[proc]bool) map[int]bool {
	if s.children == nil {
		s.procs, s.children, s.members = make(map[int]procInfo), make(map[int][]int), make(map[int]bool)
	}
	clear(s.procs)
	clear(s.children)
	clear(s.members)
	d, err := os.Open("/proc")
	if err != nil {
		return s.members
	}
	names, _ := d.Readdirnames(-1)
	d.Close()

	self := os.Getpid()
	var queue []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		p, ok := s.stat(pid)
		if !ok {
			continue
		}
		s.procs[pid] = p
		s.children[p.ppid] = append(s.children[p.ppid], pid)
		ours := p.ppid == self && pid != t.pgid && (seen[proc{pid, p.start}] || s.hasMarker(pid, t.marker))
		if p.pgrp == t.pgid || pid == t.pgid || ours {
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
	return s.members
}

// maxEnviron bounds what is read of a process's environment.
const maxEnviron = 1 << 20

// hasMarker reports whether the environment pid started with holds marker.
// An environment that cannot be read (the process changed user, or is a
// zombie) does not.
func (s *procScanner) hasMarker(pid int, marker []byte) bool {
	if len(marker) == 0 {
		return false
	}
	fd, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/environ", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	if s.env == nil {
		s.env = make([]byte, 0, 4096)
	}
	s.env = s.env[:0]
	for len(s.env) < maxEnviron {
		if len(s.env) == cap(s.env) {
			s.env = append(s.env, 0)[:len(s.env)]
		}
		n, err := syscall.Read(fd, s.env[len(s.env):cap(s.env)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		s.env = s.env[:len(s.env)+n]
	}
	for v := range bytes.SplitSeq(s.env, []byte{0}) {
		if bytes.Equal(v, marker) {
			return true
		}
	}
	return false
}

// treeRSS returns the summed RSS in bytes of the members of t (see scan).
func (s *procScanner) treeRSS(t tree, seen map[proc]bool) int64 {
	var pages int64
	for pid := range s.scan(t, seen) {
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

// stat reads /proc/pid/stat: "pid (comm) state ppid pgrp ... starttime ...",
// where comm may contain spaces and parentheses.
func (s *procScanner) stat(pid int) (procInfo, bool) {
	return parseStat(s.read("/proc/" + strconv.Itoa(pid) + "/stat"))
}

func parseStat(b []byte) (procInfo, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procInfo{}, false
	}
	return procInfo{ppid: ppid, pgrp: pgrp, start: start, zombie: f[0][0] == 'Z' || f[0][0] == 'X'}, true
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
