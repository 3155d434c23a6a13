package anon

import (
	"container/heap"
	"context"
	"math"
	"sort"
)

// Node states.
const (
	fMonoAnon uint8 = 1 << iota // satisfies the monotonic part of the model (checked or tagged)
	fMonoNot                    // breaks it (checked or tagged)
	fAnon                       // satisfies the whole model (known)
	fNotAnon                    // breaks it (known)
	fChecked                    // its classes were computed
)

// lattice is the set of transformations: one level per quasi-identifier.
// Node ids are mixed-radix numbers over the levels.
type lattice struct {
	dims   []int // levels per quasi-identifier
	stride []int
	size   int
	height int // highest level sum
}

func newLattice(dims []int) (*lattice, bool) {
	l := &lattice{dims: dims, stride: make([]int, len(dims)), size: 1}
	for i, d := range dims {
		l.stride[i] = l.size
		if l.size > math.MaxInt32/d {
			return nil, false
		}
		l.size *= d
		l.height += d - 1
	}
	return l, true
}

func (l *lattice) levels(id int, lv []int) []int {
	lv = lv[:0]
	for _, d := range l.dims {
		lv = append(lv, id%d)
		id /= d
	}
	return lv
}

func (l *lattice) sum(id int) int {
	s := 0
	for _, d := range l.dims {
		s += id % d
		id /= d
	}
	return s
}

// successors and predecessors call f on each direct neighbour of id.
func (l *lattice) successors(id int, f func(int)) {
	x := id
	for i, d := range l.dims {
		if x%d+1 < d {
			f(id + l.stride[i])
		}
		x /= d
	}
}

func (l *lattice) predecessors(id int, f func(int)) {
	x := id
	for i, d := range l.dims {
		if x%d > 0 {
			f(id - l.stride[i])
		}
		x /= d
	}
}

// searcher runs the optimal search.
type searcher struct {
	ctx     context.Context
	e       *engine
	lat     *lattice
	state   []uint8
	value   []float64 // metric of fully anonymous checked nodes, NaN otherwise
	bound   []float64 // lower bound from grouping (group-dependent metrics), -Inf unknown
	rank    [][3]float64
	checks  int
	ruled   int // nodes ruled out by rareBound, without grouping
	best    int
	bestVal float64
	g       groups
	lv      []int
	stack   []int
}

func newSearcher(ctx context.Context, e *engine, lat *lattice) *searcher {
	s := &searcher{ctx: ctx, e: e, lat: lat, state: make([]uint8, lat.size), value: make([]float64, lat.size),
		bound: make([]float64, lat.size), best: -1}
	for i := range s.value {
		s.value[i] = math.NaN()
		s.bound[i] = math.Inf(-1)
	}
	s.initRank()
	return s
}

// initRank precomputes Flash's ordering of nodes: by level sum, then by mean
// relative generalisation, then by the loss of distinct values.
func (s *searcher) initRank() {
	lat, e := s.lat, s.e
	// Distinct values of each column at each level, over its hierarchy.
	dist := make([][]float64, len(e.qis))
	for j, q := range e.qis {
		dist[j] = make([]float64, q.levels)
		for l := 0; l < q.levels; l++ {
			dist[j][l] = float64(len(q.labels[l]))
		}
		for l := q.levels - 1; l >= 0; l-- {
			dist[j][l] /= dist[j][0]
		}
	}
	s.rank = make([][3]float64, lat.size)
	lv := make([]int, 0, len(lat.dims))
	for id := 0; id < lat.size; id++ {
		lv = lat.levels(id, lv)
		var sum, prec, dd float64
		for j, l := range lv {
			sum += float64(l)
			if lat.dims[j] > 1 {
				prec += float64(l) / float64(lat.dims[j]-1)
			}
			dd += dist[j][l]
		}
		d := float64(len(lv))
		h := float64(max(lat.height, 1))
		s.rank[id] = [3]float64{sum / h, prec / d, 1 - dd/d}
	}
}

func (s *searcher) less(a, b int) bool {
	ra, rb := s.rank[a], s.rank[b]
	for i := 0; i < 3; i++ {
		if ra[i] != rb[i] {
			return ra[i] < rb[i]
		}
	}
	return a < b
}

func (s *searcher) monoKnown(id int) bool { return s.state[id]&(fMonoAnon|fMonoNot) != 0 }

// check groups node id, records what it learns and tags the lattice.
func (s *searcher) check(id int) {
	e := s.e
	s.lv = s.lat.levels(id, s.lv)
	if e.rareBound(s.lv) > e.maxOut {
		s.ruled++
		s.state[id] |= fNotAnon
		s.tagDown(id)
		return
	}
	e.group(s.lv, &s.g)
	s.checks++
	st := s.state[id] | fChecked
	if s.g.anonymous(e.maxOut) {
		st |= fAnon
		v := e.metricValue(e.cfg.Metric, s.lv, &s.g)
		s.value[id] = v
		s.track(id, v)
	} else {
		st |= fNotAnon
	}
	s.state[id] = st
	s.bound[id] = math.Max(s.bound[id], e.groupBound(e.cfg.Metric, s.lv, &s.g))
	if s.g.monoAnonymous(e.maxOut) {
		s.tagUp(id)
	} else {
		s.tagDown(id)
	}
}

// track keeps the best node: lowest metric, then lowest level sum, then id.
func (s *searcher) track(id int, v float64) {
	if s.best < 0 || v < s.bestVal || (v == s.bestVal && s.betterTie(id, s.best)) {
		s.best, s.bestVal = id, v
	}
}

func (s *searcher) betterTie(a, b int) bool {
	sa, sb := s.lat.sum(a), s.lat.sum(b)
	return sa < sb || (sa == sb && a < b)
}

// tagUp marks id and every generalisation of it as satisfying the monotonic
// part of the model (predictive tagging).
func (s *searcher) tagUp(id int) {
	flag := fMonoAnon
	if s.e.allMono {
		flag |= fAnon
	}
	s.propagate(id, flag, fMonoAnon, s.lat.successors)
}

// tagDown marks id and every specialisation of it as breaking it.
func (s *searcher) tagDown(id int) {
	flag := fMonoNot | fNotAnon // breaking the monotonic part breaks the model
	s.propagate(id, flag, fMonoNot, s.lat.predecessors)
}

func (s *searcher) propagate(id int, flag, stop uint8, next func(int, func(int))) {
	s.state[id] |= flag
	st := append(s.stack[:0], id)
	for len(st) > 0 {
		x := st[len(st)-1]
		st = st[:len(st)-1]
		next(x, func(y int) {
			if s.state[y]&stop == 0 {
				s.state[y] |= flag
				st = append(st, y)
			}
		})
	}
	s.stack = st
}

// nodeHeap orders nodes by the Flash strategy.
type nodeHeap struct {
	s   *searcher
	ids []int
}

func (h *nodeHeap) Len() int           { return len(h.ids) }
func (h *nodeHeap) Less(i, j int) bool { return h.s.less(h.ids[i], h.ids[j]) }
func (h *nodeHeap) Swap(i, j int)      { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *nodeHeap) Push(x any)         { h.ids = append(h.ids, x.(int)) }
func (h *nodeHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}

// flash classifies every node against the monotonic part of the model with
// Flash's binary search over greedy paths (Kohlmayer et al. 2012): levels are
// visited bottom-up, every unclassified node starts a path to the top that is
// searched binarily, and each check tags all generalisations (anonymous) or
// specialisations (not anonymous).
func (s *searcher) flash() {
	bySum := make([][]int, s.lat.height+1)
	for id := 0; id < s.lat.size; id++ {
		sm := s.lat.sum(id)
		bySum[sm] = append(bySum[sm], id)
	}
	q := &nodeHeap{s: s}
	for _, level := range bySum {
		var todo []int
		for _, id := range level {
			if !s.monoKnown(id) {
				todo = append(todo, id)
			}
		}
		sort.Slice(todo, func(i, j int) bool { return s.less(todo[i], todo[j]) })
		for _, id := range todo {
			if s.ctx.Err() != nil {
				return
			}
			if s.monoKnown(id) {
				continue
			}
			heap.Push(q, id)
			for q.Len() > 0 {
				head := heap.Pop(q).(int)
				if s.monoKnown(head) {
					continue
				}
				s.checkPath(s.path(head), q)
			}
		}
	}
}

// path greedily follows unclassified successors (best first) to the top.
func (s *searcher) path(id int) []int {
	p := []int{id}
	for {
		next := -1
		s.lat.successors(id, func(y int) {
			if !s.monoKnown(y) && (next < 0 || s.less(y, next)) {
				next = y
			}
		})
		if next < 0 {
			return p
		}
		p = append(p, next)
		id = next
	}
}

func (s *searcher) checkPath(p []int, q *nodeHeap) {
	lo, hi := 0, len(p)-1
	for lo <= hi {
		mid := (lo + hi) / 2
		id := p[mid]
		if !s.monoKnown(id) {
			s.check(id)
			if s.state[id]&fMonoAnon == 0 {
				s.lat.successors(id, func(y int) {
					if !s.monoKnown(y) {
						heap.Push(q, y)
					}
				})
			}
		}
		if s.state[id]&fMonoAnon != 0 {
			hi = mid - 1
		} else {
			lo = mid + 1
		}
	}
}

// run finds the optimum: Flash alone when the model and the metric are
// monotonic; otherwise Flash classifies the monotonic part and the candidates
// are then evaluated in order of their lower bound, pruning every node whose
// bound cannot beat the best found.
func (s *searcher) run() {
	e := s.e
	s.flash()
	monotonicMetric := e.cfg.Metric.monotonic() || e.maxOut == 0
	if e.allMono && monotonicMetric {
		return
	}
	var cand []int
	for id := 0; id < s.lat.size; id++ {
		if s.state[id]&fMonoAnon != 0 && s.state[id]&fNotAnon == 0 {
			cand = append(cand, id)
		}
	}
	m := e.cfg.Metric
	if m.independentBound() {
		lb := make([]float64, s.lat.size)
		lv := make([]int, 0, len(e.qis))
		for _, id := range cand {
			lv = s.lat.levels(id, lv)
			lb[id], _ = e.lowerBound(m, lv)
		}
		sort.SliceStable(cand, func(i, j int) bool {
			a, b := cand[i], cand[j]
			if lb[a] != lb[b] {
				return lb[a] < lb[b]
			}
			return s.betterTie(a, b)
		})
		for _, id := range cand {
			if s.ctx.Err() != nil {
				return
			}
			if s.best >= 0 && (lb[id] > s.bestVal || (lb[id] == s.bestVal && !s.betterTie(id, s.best))) {
				break
			}
			s.evaluate(id)
		}
		return
	}
	// Group-dependent bounds: visit bottom-up, inheriting bounds from
	// predecessors (the bound never decreases with generalisation).
	sort.SliceStable(cand, func(i, j int) bool { return s.lat.sum(cand[i]) < s.lat.sum(cand[j]) })
	order := make([]int, s.lat.size)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return s.lat.sum(order[i]) < s.lat.sum(order[j]) })
	for _, id := range order {
		if s.ctx.Err() != nil {
			return
		}
		b := s.bound[id]
		s.lat.predecessors(id, func(p int) { b = math.Max(b, s.bound[p]) })
		s.bound[id] = b
		if s.state[id]&fMonoAnon == 0 || s.state[id]&fNotAnon != 0 {
			continue
		}
		if s.best >= 0 && (b > s.bestVal || (b == s.bestVal && !s.betterTie(id, s.best))) {
			continue
		}
		s.evaluate(id)
	}
}

// evaluate makes sure a candidate's anonymity and metric are known.
func (s *searcher) evaluate(id int) {
	if s.state[id]&fChecked == 0 {
		s.check(id)
	}
}
