package report

// idSet is a set of 64-bit finding id prefixes: open addressing with linear
// probing over a flat slice. A Go map of a million ids costs about three
// times the memory and keeps the garbage collector busy; this holds 2M ids
// in 32 MiB. The zero key marks an empty slot, so key 0 is stored apart.
type idSet struct {
	slots   []uint64
	n       int
	hasZero bool
}

// add inserts k and reports whether it was absent.
func (s *idSet) add(k uint64) bool {
	if k == 0 {
		was := s.hasZero
		s.hasZero = true
		return !was
	}
	if (s.n+1)*4 > len(s.slots)*3 { // keep the load factor under 3/4
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := mix(k) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return false
		case 0:
			s.slots[i] = k
			s.n++
			return true
		}
	}
}

// has reports whether k is in the set.
func (s *idSet) has(k uint64) bool {
	if k == 0 {
		return s.hasZero
	}
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := mix(k) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

func (s *idSet) grow() {
	old := s.slots
	size := 1024
	if len(old) > 0 {
		size = len(old) * 2
	}
	s.slots, s.n = make([]uint64, size), 0
	for _, k := range old {
		if k != 0 {
			s.add(k)
		}
	}
}

// mix spreads the bits of k; ids are hashes already, but a set built from
// them must not depend on that.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	return k
}
