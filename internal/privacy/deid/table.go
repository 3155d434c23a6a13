package deid

import "math/bits"

// table is an open-addressing hash table from uint64 keys (already well
// mixed hashes) to int32 values, with linear probing over one array of
// slots (one cache line per probe). It is two to three times faster than a
// Go map for the lookups of the gazetteer and the model, which dominate
// the running time.
type table struct {
	slots []slot
	shift uint
	n     int
}

type slot struct {
	key uint64
	val int32
}

func newTable(capacity int) *table {
	size := 16
	for size < 2*capacity {
		size <<= 1
	}
	return &table{slots: make([]slot, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

// key 0 marks an empty slot; remap it.
func fixKey(k uint64) uint64 {
	if k == 0 {
		return 0x9e3779b97f4a7c15
	}
	return k
}

func (t *table) get(k uint64) (int32, bool) {
	k = fixKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := (k * 0x9e3779b97f4a7c15) >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return s.val, true
		}
		if s.key == 0 {
			return 0, false
		}
	}
}

func (t *table) put(k uint64, v int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	k = fixKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := (k * 0x9e3779b97f4a7c15) >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			s.val = v
			return
		}
		if s.key == 0 {
			s.key, s.val = k, v
			t.n++
			return
		}
	}
}

func (t *table) grow() {
	old := t.slots
	*t = *newTable(len(old))
	for _, s := range old {
		if s.key != 0 {
			t.put(s.key, s.val) // keys are already fixed
		}
	}
}

func (t *table) len() int { return t.n }

// each calls fn for every entry.
func (t *table) each(fn func(k uint64, v int32)) {
	for _, s := range t.slots {
		if s.key != 0 {
			fn(s.key, s.val)
		}
	}
}

// fpSet is a set of hashes stored as 32-bit fingerprints (4 bytes a slot):
// the large common-word list fits in a quarter of the memory of a table,
// which keeps lookups in cache. A false positive needs two different words
// with equal 32-bit fingerprints: rare, and harmless (a feature).
type fpSet struct {
	fps   []uint32
	shift uint
	n     int
}

func newFPSet(capacity int) *fpSet {
	size := 16
	for size < capacity+capacity/2 {
		size <<= 1
	}
	return &fpSet{fps: make([]uint32, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

func fingerprint(k uint64) uint32 {
	fp := uint32(k ^ k>>32)
	if fp == 0 {
		fp = 1
	}
	return fp
}

func (s *fpSet) add(k uint64) {
	if 3*(s.n+1) > 2*len(s.fps) {
		panic("deid: fpSet over capacity") // sized at construction
	}
	s.insert(fingerprint(k), k*0x9e3779b97f4a7c15)
}

func (s *fpSet) insert(fp uint32, h uint64) {
	mask := uint64(len(s.fps) - 1)
	for i := h >> s.shift; ; i = (i + 1) & mask {
		switch s.fps[i] {
		case fp:
			return
		case 0:
			s.fps[i] = fp
			s.n++
			return
		}
	}
}

func (s *fpSet) has(k uint64) bool {
	fp := fingerprint(k)
	mask := uint64(len(s.fps) - 1)
	for i := (k * 0x9e3779b97f4a7c15) >> s.shift; ; i = (i + 1) & mask {
		switch s.fps[i] {
		case fp:
			return true
		case 0:
			return false
		}
	}
}

// edgeTable is the compiled trie of the gazetteer: from mix(node, token
// hash) to the child node and, in the same 16-byte slot, the categories of
// the entries ending at the child and whether it has children (one memory
// access per token instead of three).
type edgeTable struct {
	slots []edgeSlot
	shift uint
}

type edgeSlot struct {
	key  uint64
	node int32
	info uint32 // categories | edgeKids
}

// edgeKids marks a node with children.
const edgeKids uint32 = 1 << 31

func newEdgeTable(n int) *edgeTable {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	return &edgeTable{slots: make([]edgeSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

func (t *edgeTable) put(k uint64, node int32, info uint32) {
	k = fixKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := (k * 0x9e3779b97f4a7c15) >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == 0 || s.key == k {
			s.key, s.node, s.info = k, node, info
			return
		}
	}
}

func (t *edgeTable) get(k uint64) (int32, uint32, bool) {
	k = fixKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := (k * 0x9e3779b97f4a7c15) >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return s.node, s.info, true
		}
		if s.key == 0 {
			return 0, 0, false
		}
	}
}
