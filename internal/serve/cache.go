package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/learn"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
)

// loaded is a model version in memory, with its batcher: hygie's model
// format, or the older bare linear regression.
type loaded struct {
	v        registry.Version
	linear   *learn.LinearRegression
	model    *model.Model
	sig      *signature // of model
	fast     *compiled  // gradient-boosted models: the fast form
	size     int64      // artifact bytes: what the memory budget counts
	batch    *batcher
	lastUsed atomic.Int64
}

// prepared is a request checked against a model: its encoded rows, and
// row, which appends row i's inputs as logged (the model's inputs only).
type prepared struct {
	raw [][]float64
	row func(b []byte, i int) []byte
}

// prepare validates tensors against the model and encodes them.
func (m *loaded) prepare(inputs []Tensor) (*prepared, error) {
	if m.model == nil {
		X, err := rows(m.linear.Features, inputs)
		if err != nil {
			return nil, err
		}
		return &prepared{raw: X, row: func(b []byte, i int) []byte {
			b = append(b, '{')
			for j, f := range m.linear.Features {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(appendJSONString(b, f), ':')
				b = appendJSONNumber(b, X[i][j])
			}
			return append(b, '}')
		}}, nil
	}
	t, err := m.sig.table(inputs)
	if err != nil {
		return nil, err
	}
	if m.model.Learner != model.GBDT {
		// The linear learners need every number: say which is missing
		// rather than fail the batch this request joins.
		for _, c := range t.Cols {
			for i, x := range c.Num {
				if math.IsNaN(x) {
					return nil, errs.Invalidf("input %q row %d is missing (null): this %s model needs complete numeric data", c.Name, i+1, m.model.Learner)
				}
			}
		}
	}
	return &prepared{raw: m.sig.encode(t), row: func(b []byte, i int) []byte { return appendRowJSON(b, t, i) }}, nil
}

func (m *loaded) predict(raw [][]float64) ([]float64, error) {
	if m.fast != nil {
		return m.fast.predictBatch(raw)
	}
	if m.model != nil {
		return m.model.PredictRaw(raw)
	}
	return m.linear.PredictBatch(raw)
}

// cache holds loaded model versions under the memory budget, least
// recently used unloaded first. Concurrent loads of one version share the
// work.
type cache struct {
	s       *Service
	mu      sync.Mutex
	entries map[int64]*cacheEntry // by model version id
	bytes   int64
}

type cacheEntry struct {
	ready chan struct{} // closed once m or err is set
	m     *loaded
	err   error
}

func newCache(s *Service) *cache { return &cache{s: s, entries: map[int64]*cacheEntry{}} }

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.entries {
		if e.m != nil {
			n++
		}
	}
	return n
}

// get returns the loaded version, loading it if needed.
func (c *cache) get(ctx context.Context, v registry.Version) (*loaded, error) {
	c.mu.Lock()
	e, ok := c.entries[v.ID]
	if !ok {
		e = &cacheEntry{ready: make(chan struct{})}
		c.entries[v.ID] = e
		c.mu.Unlock()
		m, err := c.s.load(context.WithoutCancel(ctx), v)
		c.mu.Lock()
		e.m, e.err = m, err
		close(e.ready)
		if err != nil {
			delete(c.entries, v.ID) // a later request tries again
		} else {
			m.lastUsed.Store(time.Now().UnixNano())
			c.bytes += m.size
			c.evict(v.ID)
		}
		c.mu.Unlock()
		return m, err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ErrTimeout
	}
	if e.err != nil {
		return nil, e.err
	}
	e.m.lastUsed.Store(time.Now().UnixNano())
	return e.m, nil
}

// evict unloads the least recently used versions, other than keep, while
// the budget is exceeded. Requests already queued on an unloaded version
// are answered; later ones load it again.
func (c *cache) evict(keep int64) {
	for c.bytes > c.s.opt.MemoryBudget {
		var (
			oldest int64
			victim *cacheEntry
		)
		for id, e := range c.entries {
			if id == keep || e.m == nil {
				continue
			}
			if t := e.m.lastUsed.Load(); victim == nil || t < oldest {
				oldest, victim = t, e
			}
		}
		if victim == nil {
			return
		}
		delete(c.entries, victim.m.v.ID)
		c.bytes -= victim.m.size
		victim.m.batch.close()
		c.s.log.Info("model unloaded under the memory budget", "model", victim.m.v.Model, "version", victim.m.v.Version, "bytes", victim.m.size)
	}
}

func (c *cache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.entries {
		if e.m != nil {
			e.m.batch.close()
			delete(c.entries, id)
		}
	}
	c.bytes = 0
}

// load reads and decodes a version's artifact and starts its batcher.
func (s *Service) load(ctx context.Context, v registry.Version) (*loaded, error) {
	if v.Flavor != FlavorLinear && v.Flavor != model.Format {
		return nil, errs.Invalidf("model %s version %d has flavor %q, which this server cannot run", v.Model, v.Version, v.Flavor)
	}
	rc, err := s.blobs.Get(ctx, v.ArtifactKey)
	if err != nil {
		return nil, fmt.Errorf("load model artifact: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("load model artifact: %w", err)
	}
	m := &loaded{v: v, size: int64(len(b))}
	if v.Flavor == model.Format {
		if m.model, err = model.Unmarshal(b); err != nil {
			return nil, fmt.Errorf("model artifact: %w", err)
		}
		m.sig = newSignature(m.model.Inputs)
		if m.model.Learner == model.GBDT {
			m.fast = compile(m.model.GBDT)
		}
	} else {
		m.linear = &learn.LinearRegression{}
		if err := json.Unmarshal(b, m.linear); err != nil {
			return nil, fmt.Errorf("decode model artifact: %w", err)
		}
		if len(m.linear.Features) != len(m.linear.Coef) {
			return nil, fmt.Errorf("model artifact: %d features but %d coefficients", len(m.linear.Features), len(m.linear.Coef))
		}
	}
	predict := m.predict
	if d := s.predictDelay; d > 0 {
		predict = func(raw [][]float64) ([]float64, error) {
			time.Sleep(d)
			return m.predict(raw)
		}
	}
	m.batch = newBatcher(s.opt, predict, s.metrics.batchObserver(v.Model, v.Version))
	s.log.Info("model loaded", "model", v.Model, "version", v.Version, "bytes", m.size)
	return m, nil
}

// resolver maps model names to versions, trusting the registry's answer
// for ResolveEvery: a promotion or a rollback is picked up within that
// delay, and a request keeps the version it resolved.
type resolver struct {
	s       *Service
	mu      sync.Mutex
	entries map[nameKey]*resolution
}

type nameKey struct {
	name    string
	version int
}

// resolution is what a name (and version number) resolves to.
type resolution struct {
	primary    registry.Version
	canary     *registry.Canary
	project    string
	err        error
	at         time.Time
	refreshing bool
}

// maxResolutions bounds the resolver's map (names come from requests).
const maxResolutions = 10_000

// get resolves name: version > 0 is that version, 0 the one in the
// server's environment (with the canary), -1 only the project.
func (r *resolver) get(ctx context.Context, name string, version int) (*resolution, error) {
	key := nameKey{name, version}
	now := time.Now()
	r.mu.Lock()
	e, ok := r.entries[key]
	if ok && (now.Sub(e.at) < r.s.opt.ResolveEvery || e.refreshing) {
		r.mu.Unlock()
		return e, e.err
	}
	if ok {
		e.refreshing = true // others keep the current answer meanwhile
	}
	r.mu.Unlock()
	fresh := r.read(ctx, name, version)
	r.mu.Lock()
	if len(r.entries) >= maxResolutions {
		clear(r.entries)
	}
	r.entries[key] = fresh
	r.mu.Unlock()
	return fresh, fresh.err
}

func (r *resolver) read(ctx context.Context, name string, version int) *resolution {
	ctx = context.WithoutCancel(ctx)
	res := &resolution{at: time.Now()}
	switch {
	case version < 0:
		res.project, res.err = r.s.reg.ProjectOfModel(ctx, name)
		return res
	case version > 0:
		res.primary, res.err = r.s.reg.Version(ctx, name, version)
	default:
		res.primary, res.err = r.s.reg.InEnvironment(ctx, name, r.s.opt.Environment)
		if errs.Is(res.err, errs.NotFound) {
			if _, err := r.s.reg.ProjectOfModel(ctx, name); err != nil {
				res.err = err // no such model, rather than none deployed
			}
		}
		if res.err == nil && r.s.opt.Environment == "production" {
			c, err := r.s.reg.Canary(ctx, name)
			switch {
			case err == nil && c.Version.ID != res.primary.ID && c.Version.Environment == "integration":
				res.canary = &c
			case err != nil && !errs.Is(err, errs.NotFound):
				r.s.log.Warn("read canary", "model", name, "err", err)
			}
		}
	}
	if res.err == nil {
		// Load before the new answer is used, so a promoted version
		// swaps in without requests waiting for its load.
		for _, v := range []*registry.Version{&res.primary, canaryVersion(res.canary)} {
			if v != nil {
				if _, err := r.s.cache.get(ctx, *v); err != nil {
					r.s.log.Warn("preload model", "model", v.Model, "version", v.Version, "err", err)
				}
			}
		}
	}
	return res
}

func canaryVersion(c *registry.Canary) *registry.Version {
	if c == nil {
		return nil
	}
	return &c.Version
}
