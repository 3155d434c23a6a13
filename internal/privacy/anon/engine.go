package anon

import (
	"encoding/binary"
	"math"

	"github.com/hygie-health/hygie/internal/errs"
)

// qiCol is a dictionary-encoded quasi-identifier: each record holds the row
// of its value in the hierarchy, and gen[level][row] is the id of the value's
// generalisation at that level (ids are dense per level).
type qiCol struct {
	name   string
	col    int
	h      *Hierarchy
	levels int
	gen    [][]int32   // [level][hierarchy row] → id
	labels [][]string  // [level][id] → value
	share  [][]float64 // [level][id] → hierarchy rows under it / all rows (Loss)
	nue    []float64   // [level] → non-uniform entropy of the column at that level
	lossG  []float64   // [level] → Σ over records of share (Loss, before suppression)
	rare   [][]bool    // [level][id] → fewer than k records have this value
	domain float64     // hierarchy rows
}

// sensCol is a dictionary-encoded sensitive attribute.
type sensCol struct {
	name   string
	col    int
	values []string
	global []float64 // distribution over the whole table
	// hierarchical distance: parent[l][id at level l] = id at level l+1;
	// leaf[value code] = id at level 0 of the hierarchy.
	tree   bool
	leaf   []int32
	parent [][]int32
	width  []int // ids per level
}

// engine holds the encoded table and evaluates transformations.
type engine struct {
	cfg    *Config
	n      int
	maxOut int
	qis    []*qiCol
	sens   []*sensCol
	// Records with identical quasi-identifiers are grouped once ("bottom
	// tuples"); every check groups these instead of the records.
	nb     int
	bLeaf  [][]int32 // [qi][tuple] → hierarchy row
	bCount []int32
	recB   []int32 // record → tuple
	// per sensitive attribute, a sparse histogram per tuple (CSR)
	bsStart [][]int32
	bsVal   [][]int32
	bsCnt   [][]int32
	// allMono: every criterion is monotonic (no suppression, or only
	// k-anonymity and distinct l-diversity).
	allMono bool
	// scratch
	dense   []int32
	touched []uint64
	m64     map[uint64]int32
	mstr    map[string]int32
	keybuf  []byte
}

// groups is the result of grouping the records under one transformation.
type groups struct {
	classOf    []int32 // tuple → class
	size       []int32 // class → records
	outlier    []bool  // class breaks the full model
	outMono    []bool  // class breaks the monotonic part of the model
	suppressed int     // records in outlier classes
	supMono    int
}

func (g *groups) anonymous(maxOut int) bool     { return g.suppressed <= maxOut }
func (g *groups) monoAnonymous(maxOut int) bool { return g.supMono <= maxOut }

// newEngine encodes the table for the configuration.
func newEngine(t *Table, cfg *Config) (*engine, error) {
	e := &engine{cfg: cfg, n: len(t.Rows)}
	e.maxOut = int(math.Floor(cfg.MaxSuppression * float64(e.n)))
	for _, q := range cfg.QIs {
		c := t.Column(q.Column)
		if c < 0 {
			return nil, errs.Invalidf("%s: no column %q", t.Source, q.Column)
		}
		e.qis = append(e.qis, encodeQI(q, c))
	}
	for _, s := range cfg.Sensitive {
		c := t.Column(s)
		if c < 0 {
			return nil, errs.Invalidf("%s: no column %q", t.Source, s)
		}
	}
	// Tuples.
	d := len(e.qis)
	e.bLeaf = make([][]int32, d)
	e.recB = make([]int32, e.n)
	index := map[string]int32{}
	key := make([]byte, 4*d)
	leaves := make([]int32, d)
	for i, row := range t.Rows {
		for j, q := range e.qis {
			r, ok := q.h.Lookup(row[q.col])
			if !ok {
				return nil, errs.Invalidf("%s: column %q: value %q is missing from hierarchy %s", t.where(i), q.name, row[q.col], q.h.Source)
			}
			leaves[j] = int32(r)
			binary.LittleEndian.PutUint32(key[4*j:], uint32(r))
		}
		b, ok := index[string(key)]
		if !ok {
			b = int32(e.nb)
			e.nb++
			index[string(key)] = b
			for j := range e.qis {
				e.bLeaf[j] = append(e.bLeaf[j], leaves[j])
			}
			e.bCount = append(e.bCount, 0)
		}
		e.bCount[b]++
		e.recB[i] = b
	}
	for _, q := range e.qis {
		q.computeStats(e)
	}
	for _, s := range cfg.Sensitive {
		sc, err := e.encodeSensitive(t, s, cfg)
		if err != nil {
			return nil, err
		}
		e.sens = append(e.sens, sc)
	}
	e.allMono = e.maxOut == 0 || ((cfg.L == nil || !cfg.L.Entropy) && cfg.T == nil)
	e.m64 = map[uint64]int32{}
	e.mstr = map[string]int32{}
	return e, nil
}

func encodeQI(q QI, col int) *qiCol {
	h := q.Hierarchy
	c := &qiCol{name: q.Column, col: col, h: h, levels: h.Levels(), domain: float64(len(h.Rows))}
	c.gen = make([][]int32, c.levels)
	c.labels = make([][]string, c.levels)
	c.share = make([][]float64, c.levels)
	for l := 0; l < c.levels; l++ {
		ids := map[string]int32{}
		c.gen[l] = make([]int32, len(h.Rows))
		var counts []float64
		for r, row := range h.Rows {
			id, ok := ids[row[l]]
			if !ok {
				id = int32(len(c.labels[l]))
				ids[row[l]] = id
				c.labels[l] = append(c.labels[l], row[l])
				counts = append(counts, 0)
			}
			c.gen[l][r] = id
			counts[id]++
		}
		for i := range counts {
			counts[i] /= c.domain
		}
		c.share[l] = counts
	}
	return c
}

// computeStats precomputes the level-only parts of the metrics.
func (c *qiCol) computeStats(e *engine) {
	leafCount := make([]float64, len(c.h.Rows))
	for b, r := range e.bLeaf[indexOf(e.qis, c)] {
		leafCount[r] += float64(e.bCount[b])
	}
	c.nue = make([]float64, c.levels)
	c.lossG = make([]float64, c.levels)
	for l := 0; l < c.levels; l++ {
		genCount := make([]float64, len(c.labels[l]))
		for r, a := range leafCount {
			genCount[c.gen[l][r]] += a
		}
		v, loss := 0.0, 0.0
		for r, a := range leafCount {
			if a == 0 {
				continue
			}
			id := c.gen[l][r]
			v += a * math.Log2(genCount[id]/a)
			loss += a * c.share[l][id]
		}
		c.nue[l] = v
		c.lossG[l] = loss
		c.rare = append(c.rare, make([]bool, len(genCount)))
		for id, n := range genCount {
			c.rare[l][id] = n < float64(e.cfg.K)
		}
	}
}

func indexOf(qs []*qiCol, c *qiCol) int {
	for i, q := range qs {
		if q == c {
			return i
		}
	}
	return -1
}

func (e *engine) encodeSensitive(t *Table, name string, cfg *Config) (*sensCol, error) {
	s := &sensCol{name: name, col: t.Column(name)}
	codes := make([]int32, e.n)
	ids := map[string]int32{}
	var counts []float64
	for i, row := range t.Rows {
		v := row[s.col]
		id, ok := ids[v]
		if !ok {
			id = int32(len(s.values))
			ids[v] = id
			s.values = append(s.values, v)
			counts = append(counts, 0)
		}
		codes[i] = id
		counts[id]++
	}
	s.global = counts
	for i := range s.global {
		s.global[i] /= float64(e.n)
	}
	if cfg.T != nil && cfg.T.Hierarchy != nil && name == cfg.Sensitive[0] {
		h := cfg.T.Hierarchy
		s.tree = true
		sc := &qiCol{}
		*sc = *encodeQI(QI{Column: name, Hierarchy: h}, s.col)
		s.leaf = make([]int32, len(s.values))
		for id, v := range s.values {
			r, ok := h.Lookup(v)
			if !ok {
				for i, row := range t.Rows {
					if row[s.col] == v {
						return nil, errs.Invalidf("%s: column %q: value %q is missing from hierarchy %s", t.where(i), name, v, h.Source)
					}
				}
			}
			s.leaf[id] = sc.gen[0][r]
		}
		levels := h.Levels()
		s.width = make([]int, levels)
		s.parent = make([][]int32, levels-1)
		for l := 0; l < levels; l++ {
			s.width[l] = len(sc.labels[l])
		}
		for l := 0; l+1 < levels; l++ {
			s.parent[l] = make([]int32, s.width[l])
			for r := range h.Rows {
				s.parent[l][sc.gen[l][r]] = sc.gen[l+1][r]
			}
		}
	}
	// Sparse histograms per tuple.
	start := make([]int32, e.nb+1)
	perTuple := make([]map[int32]int32, e.nb)
	for i, b := range e.recB {
		if perTuple[b] == nil {
			perTuple[b] = map[int32]int32{}
		}
		perTuple[b][codes[i]]++
	}
	var vals, cnts []int32
	for b := 0; b < e.nb; b++ {
		start[b] = int32(len(vals))
		for v, c := range perTuple[b] {
			vals = append(vals, v)
			cnts = append(cnts, c)
		}
	}
	start[e.nb] = int32(len(vals))
	e.bsStart = append(e.bsStart, start)
	e.bsVal = append(e.bsVal, vals)
	e.bsCnt = append(e.bsCnt, cnts)
	return s, nil
}

// rareBound is a lower bound, found without grouping, on the records that lv
// must suppress for k-anonymity: a record whose value of one quasi-identifier
// is shared by fewer than k records is in a class smaller than k.
func (e *engine) rareBound(lv []int) int {
	if e.cfg.K < 2 {
		return 0
	}
	some := false
	for j, q := range e.qis {
		for _, x := range q.rare[lv[j]] {
			if x {
				some = true
				break
			}
		}
	}
	if !some {
		return 0
	}
	n := 0
	for b := 0; b < e.nb; b++ {
		for j, q := range e.qis {
			if q.rare[lv[j]][q.gen[lv[j]][e.bLeaf[j][b]]] {
				n += int(e.bCount[b])
				break
			}
		}
	}
	return n
}

const denseLimit = 1 << 22

// group computes the equivalence classes of the transformation lv and
// classifies them against the privacy model.
func (e *engine) group(lv []int, g *groups) {
	d := len(e.qis)
	if cap(g.classOf) < e.nb {
		g.classOf = make([]int32, e.nb)
	}
	g.classOf = g.classOf[:e.nb]
	g.size = g.size[:0]
	// Mixed-radix packing of the generalised codes.
	fits := true
	prod := uint64(1)
	mult := make([]uint64, d)
	for j, q := range e.qis {
		mult[j] = prod
		w := uint64(len(q.labels[lv[j]]))
		if prod > math.MaxUint64/w {
			fits = false
			break
		}
		prod *= w
	}
	gens := make([][]int32, d)
	for j, q := range e.qis {
		gens[j] = q.gen[lv[j]]
	}
	switch {
	case fits && prod <= denseLimit:
		if len(e.dense) < int(prod) {
			e.dense = make([]int32, denseLimit)
			for i := range e.dense {
				e.dense[i] = -1
			}
		}
		e.touched = e.touched[:0]
		for b := 0; b < e.nb; b++ {
			var k uint64
			for j := 0; j < d; j++ {
				k += uint64(gens[j][e.bLeaf[j][b]]) * mult[j]
			}
			c := e.dense[k]
			if c < 0 {
				c = int32(len(g.size))
				e.dense[k] = c
				e.touched = append(e.touched, k)
				g.size = append(g.size, 0)
			}
			g.size[c] += e.bCount[b]
			g.classOf[b] = c
		}
		for _, k := range e.touched {
			e.dense[k] = -1
		}
	case fits:
		clear(e.m64)
		for b := 0; b < e.nb; b++ {
			var k uint64
			for j := 0; j < d; j++ {
				k += uint64(gens[j][e.bLeaf[j][b]]) * mult[j]
			}
			c, ok := e.m64[k]
			if !ok {
				c = int32(len(g.size))
				e.m64[k] = c
				g.size = append(g.size, 0)
			}
			g.size[c] += e.bCount[b]
			g.classOf[b] = c
		}
	default:
		clear(e.mstr)
		if cap(e.keybuf) < 4*d {
			e.keybuf = make([]byte, 4*d)
		}
		key := e.keybuf[:4*d]
		for b := 0; b < e.nb; b++ {
			for j := 0; j < d; j++ {
				binary.LittleEndian.PutUint32(key[4*j:], uint32(gens[j][e.bLeaf[j][b]]))
			}
			c, ok := e.mstr[string(key)]
			if !ok {
				c = int32(len(g.size))
				e.mstr[string(key)] = c
				g.size = append(g.size, 0)
			}
			g.size[c] += e.bCount[b]
			g.classOf[b] = c
		}
	}
	e.classify(g)
}

// classify marks the classes that break the model.
func (e *engine) classify(g *groups) {
	nc := len(g.size)
	g.outlier = resizeBool(g.outlier, nc)
	g.outMono = resizeBool(g.outMono, nc)
	k := int32(e.cfg.K)
	for c, s := range g.size {
		if s < k {
			g.outlier[c] = true
			g.outMono[c] = true
		}
	}
	if len(e.sens) > 0 && (e.cfg.L != nil || e.cfg.T != nil) {
		e.classifySensitive(g)
	}
	g.suppressed, g.supMono = 0, 0
	for c, s := range g.size {
		if g.outlier[c] {
			g.suppressed += int(s)
		}
		if g.outMono[c] {
			g.supMono += int(s)
		}
	}
	if e.allMono {
		copy(g.outMono, g.outlier)
		g.supMono = g.suppressed
	}
}

func resizeBool(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// classifySensitive checks l-diversity and t-closeness of each class.
func (e *engine) classifySensitive(g *groups) {
	nc := len(g.size)
	// Tuples by class (counting sort).
	start := make([]int32, nc+1)
	for _, c := range g.classOf {
		start[c+1]++
	}
	for c := 0; c < nc; c++ {
		start[c+1] += start[c]
	}
	members := make([]int32, e.nb)
	pos := make([]int32, nc)
	copy(pos, start[:nc])
	for b, c := range g.classOf {
		members[pos[c]] = int32(b)
		pos[c]++
	}
	for si, s := range e.sens {
		buf := make([]float64, len(s.values))
		var touched []int32
		var tree [][]float64
		if s.tree {
			tree = make([][]float64, len(s.width))
			for l := range tree {
				tree[l] = make([]float64, 2*s.width[l])
			}
		}
		sStart, sVal, sCnt := e.bsStart[si], e.bsVal[si], e.bsCnt[si]
		for c := 0; c < nc; c++ {
			if g.outlier[c] && g.outMono[c] {
				continue // already fails k-anonymity
			}
			touched = touched[:0]
			for _, b := range members[start[c]:start[c+1]] {
				for x := sStart[b]; x < sStart[b+1]; x++ {
					v := sVal[x]
					if buf[v] == 0 {
						touched = append(touched, v)
					}
					buf[v] += float64(sCnt[x])
				}
			}
			size := float64(g.size[c])
			if l := e.cfg.L; l != nil {
				if l.Entropy {
					h := 0.0
					for _, v := range touched {
						p := buf[v] / size
						h -= p * math.Log2(p)
					}
					if h < math.Log2(l.L)-1e-12 {
						g.outlier[c] = true
					}
				} else if float64(len(touched)) < l.L {
					g.outlier[c] = true
					g.outMono[c] = true
				}
			}
			if t := e.cfg.T; t != nil && !g.outlier[c] {
				var dist float64
				if s.tree {
					dist = s.hierarchicalEMD(buf, size, tree)
				} else {
					dist = 1
					for _, v := range touched {
						q := s.global[v]
						dist += math.Abs(buf[v]/size-q) - q
					}
					dist /= 2
				}
				if dist > t.T+1e-12 {
					g.outlier[c] = true
				}
			}
			for _, v := range touched {
				buf[v] = 0
			}
		}
	}
}

// hierarchicalEMD is the earth mover's distance with hierarchical ground
// distance (Li, Li, Venkatasubramanian 2007): moving mass between two leaves
// costs the level of their lowest common ancestor over the hierarchy height.
// tree is scratch space: tree[l][2*id] and [2*id+1] hold the positive and
// negative extras of node id at level l.
func (s *sensCol) hierarchicalEMD(buf []float64, size float64, tree [][]float64) float64 {
	for l := range tree {
		clear(tree[l])
	}
	// Leaf extras: class share minus table share.
	for v, q := range s.global {
		x := buf[v]/size - q
		id := s.leaf[v]
		if x > 0 {
			tree[0][2*id] += x
		} else {
			tree[0][2*id+1] -= x
		}
	}
	height := float64(len(s.width) - 1)
	cost := 0.0
	for l := 0; l+1 < len(s.width); l++ {
		for id := 0; id < s.width[l]; id++ {
			x := tree[l][2*id] - tree[l][2*id+1]
			p := s.parent[l][id]
			if x > 0 {
				tree[l+1][2*p] += x
			} else {
				tree[l+1][2*p+1] -= x
			}
		}
		for id := 0; id < s.width[l+1]; id++ {
			cost += float64(l+1) / height * math.Min(tree[l+1][2*id], tree[l+1][2*id+1])
		}
	}
	return cost
}
