package runner

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Linux constants the syscall package lacks.
const (
	prSetChildSubreaper = 36  // PR_SET_CHILD_SUBREAPER
	sysPidfdSendSignal  = 424 // pidfd_send_signal(2), the same number on every architecture
	sysPidfdOpen        = 434 // pidfd_open(2)
	pPID                = 1   // P_PID for waitid(2)
)

// markerName is the environment variable that marks a Run's processes; its
// value is unique to the Run in this process.
const markerName = "SORTIE_RUNNER_TREE"

var (
	subreaperOnce sync.Once
	subreaperErr  error
	markerSeq     atomic.Uint64
)

// becomeSubreaper makes this process a child subreaper, once: an orphan
// among its descendants (a tool's child whose parent exited, as in a double
// fork) is re-parented to it instead of to init, so Run can still find,
// kill and reap it. It is the package's only process-wide effect.
func becomeSubreaper() error {
	subreaperOnce.Do(func() {
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
			subreaperErr = errno
		}
	})
	return subreaperErr
}

// newMarker returns the "NAME=VALUE" marker of a new Run.
func newMarker() string {
	return markerName + "=" + strconv.Itoa(os.Getpid()) + "." + strconv.FormatUint(markerSeq.Add(1), 10)
}

// proc names a process by its pid and its start time, which together name
// it even after the pid is reused.
type proc struct {
	pid   int
	start uint64
}

// maxKillRounds bounds the scans of killTree: each round kills what the
// previous one found, so a fork racing the kill is caught by the next.
const maxKillRounds = 8

// killTree sends SIGKILL to every live member of t (see procScanner.scan;
// seen are the processes the memory sampler saw), the tool (an unreaped
// zombie, so its pid stays reserved) excepted, scanning again until a scan
// finds no new one. It returns the members it killed and those already
// zombies, for reapKilled.
func killTree(s *procScanner, t tree, seen map[proc]bool) []proc {
	var out []proc
	done := map[proc]bool{}
	for round := range maxKillRounds {
		found := false
		members := s.scan(t, seen)
		if round == 0 {
			out = append(out, s.strays(members)...)
		}
		for pid := range members {
			p := s.procs[pid]
			k := proc{pid, p.start}
			if pid == t.pgid || done[k] {
				continue
			}
			done[k] = true
			if p.zombie {
				out = append(out, k) // exited, perhaps unreaped
				continue
			}
			if signalProcess(pid, p.start, syscall.SIGKILL) {
				found = true
				out = append(out, k)
			}
		}
		if !found {
			break
		}
	}
	return out
}

// strays returns the zombie children of this process, from the last scan,
// that no Run can claim any more but that are certainly orphans of some
// tool's tree: they are in a process group that is neither their own nor
// this process's. Every process this process starts itself (a tool, an
// installer) leads its own group or stays in this process's group, so
// reaping these takes no exec.Cmd's status. This catches the daemon of a
// classic double fork (fork, setsid, fork) that exited before a scan could
// tie it to its Run.
func (s *procScanner) strays(members map[int]bool) []proc {
	self, own := os.Getpid(), syscall.Getpgrp()
	var out []proc
	for pid, p := range s.procs {
		if p.zombie && p.ppid == self && p.pgrp != pid && p.pgrp != own && !members[pid] {
			out = append(out, proc{pid, p.start})
		}
	}
	return out
}

// signalProcess sends sig to pid if it is still the process that started at
// start. With a pidfd (Linux 5.3) the check and the signal cannot be fooled
// by the pid's reuse; without one a reuse in the instant between them could.
func signalProcess(pid int, start uint64, sig syscall.Signal) bool {
	fd, _, errno := syscall.RawSyscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if errno == 0 {
		defer syscall.Close(int(fd))
	}
	var s procScanner
	if p, ok := s.stat(pid); !ok || p.start != start {
		return false
	}
	if errno != 0 {
		return syscall.Kill(pid, sig) == nil
	}
	_, _, errno = syscall.RawSyscall6(sysPidfdSendSignal, fd, uintptr(sig), 0, 0, 0, 0)
	return errno == 0
}

// reapMu serialises the reaping of processes that are no exec.Cmd's, so
// that between checking that a pid still names a process to reap and
// reaping it, no other Run can reap it and let the pid be reused.
var reapMu sync.Mutex

// reapKilled reaps the processes killTree returned once they are children
// of this process (re-parented to it as a subreaper): each is waited for by
// its pid, never with a wildcard, so the exit status of an exec.Cmd of this
// process is never taken. It returns when none is left that this process
// must reap, or at deadline, returning those left (a process stuck in the
// kernel, or slow to tear down a large address space). A process whose
// parent is not this process, nor one of the list that is dying, is its
// parent's to reap.
func reapKilled(list []proc, deadline time.Time) []proc {
	self := os.Getpid()
	var s procScanner
	for {
		dying := map[int]bool{}
		for _, k := range list {
			dying[k.pid] = true
		}
		kept := list[:0]
		for _, k := range list {
			switch reapOne(&s, self, k) {
			case reapRetry:
				kept = append(kept, k)
			case reapOtherParent:
				if p, ok := s.stat(k.pid); ok && p.start == k.start && dying[p.ppid] {
					kept = append(kept, k) // ours once its parent is reaped
				}
			}
		}
		list = kept
		if len(list) == 0 || time.Now().After(deadline) {
			return list
		}
		// Polling a condition: SIGKILLed processes exit within moments.
		time.Sleep(time.Millisecond)
	}
}

type reapOutcome int

const (
	reapDone        reapOutcome = iota // reaped, or gone
	reapRetry                          // ours but not exited yet
	reapOtherParent                    // not (yet) this process's child
)

// reapOne reaps k if it is an exited child of this process.
func reapOne(s *procScanner, self int, k proc) reapOutcome {
	reapMu.Lock()
	defer reapMu.Unlock()
	p, ok := s.stat(k.pid)
	switch {
	case !ok || p.start != k.start:
		return reapDone
	case p.ppid != self:
		return reapOtherParent
	case !p.zombie:
		return reapRetry
	}
	// An exited child of ours, which only a holder of reapMu reaps: the
	// pid names it until this call returns. A leader shows as a zombie
	// before its other threads have exited, and cannot be reaped until
	// they have: then the wait reaps nothing, and the check below retries.
	var info [128]byte // siginfo_t, unused
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(k.pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOHANG, 0, 0)
		if errno != syscall.EINTR {
			break
		}
	}
	if p, ok := s.stat(k.pid); ok && p.start == k.start {
		return reapRetry
	}
	return reapDone
}
