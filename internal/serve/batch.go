package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
)

// errUnloaded is a batcher closed because its model was unloaded: the
// request loads the model again.
var errUnloaded = errors.New("model unloaded")

// batcher groups the requests of one model version into batches: a worker
// takes the oldest request, adds those queued behind it (waiting up to
// MaxDelay for more) up to MaxBatch rows, and predicts them in one call.
// The queue is bounded (ErrOverloaded beyond it) and Workers bounds the
// concurrent model calls.
//
// Without MaxDelay, a request of at most MaxBatch rows that finds nothing
// queued and a model call free predicts at once in its own goroutine: it
// would be a batch of its own anyway, and handing it to a worker and back
// costs more than a small prediction. Its timeout is checked before and
// after the call.
type batcher struct {
	mu       sync.RWMutex
	closed   bool
	queue    chan *job
	slots    chan struct{} // one per concurrent model call (Workers)
	predict  func([][]float64) ([]float64, error)
	maxBatch int
	maxDelay time.Duration
	observe  func(rows int, queued []time.Duration, compute time.Duration)
	workers  sync.WaitGroup
}

// job is one request's rows in the queue.
type job struct {
	ctx  context.Context
	raw  [][]float64
	enq  time.Time
	y    []float64
	err  error
	done chan struct{}
}

func newBatcher(o Options, predict func([][]float64) ([]float64, error), observe func(int, []time.Duration, time.Duration)) *batcher {
	b := &batcher{queue: make(chan *job, o.QueueSize), slots: make(chan struct{}, o.Workers), predict: predict, maxBatch: o.MaxBatch, maxDelay: o.MaxDelay, observe: observe}
	b.workers.Add(o.Workers)
	for range o.Workers {
		go b.work()
	}
	return b
}

// do predicts raw, batched with concurrent requests.
func (b *batcher) do(ctx context.Context, raw [][]float64) ([]float64, error) {
	if len(raw) == 0 {
		return []float64{}, nil
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil, errUnloaded
	}
	if b.maxDelay <= 0 && len(raw) <= b.maxBatch && len(b.queue) == 0 {
		select {
		case b.slots <- struct{}{}:
			b.mu.RUnlock()
			defer func() { <-b.slots }()
			return b.runOne(ctx, raw)
		default:
		}
	}
	j := &job{ctx: ctx, raw: raw, enq: time.Now(), done: make(chan struct{})}
	select {
	case b.queue <- j:
	default:
		b.mu.RUnlock()
		return nil, ErrOverloaded
	}
	b.mu.RUnlock()
	select {
	case <-j.done:
		return j.y, j.err
	case <-ctx.Done():
		return nil, ErrTimeout
	}
}

// close stops the workers once the queued requests are answered.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
}

func (b *batcher) work() {
	defer b.workers.Done()
	batch := make([]*job, 0, b.maxBatch)
	var timer *time.Timer
	for j := range b.queue {
		batch = append(batch[:0], j)
		rows := len(j.raw)
		open := true
	gather:
		for rows < b.maxBatch && open {
			select {
			case j2, ok := <-b.queue:
				if !ok {
					open = false
					break
				}
				batch = append(batch, j2)
				rows += len(j2.raw)
				continue
			default:
			}
			wait := b.maxDelay - time.Since(j.enq)
			if wait <= 0 {
				break gather
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case j2, ok := <-b.queue:
				timer.Stop()
				if !ok {
					open = false
					break
				}
				batch = append(batch, j2)
				rows += len(j2.raw)
			case <-timer.C:
				break gather
			}
		}
		b.slots <- struct{}{}
		b.run(batch)
		<-b.slots
	}
}

// noWait is the queue time of a request predicted at once.
var noWait = []time.Duration{0}

// runOne predicts one request's rows in the caller's goroutine, as run
// does a batch of one.
func (b *batcher) runOne(ctx context.Context, raw [][]float64) ([]float64, error) {
	if ctx.Err() != nil {
		return nil, ErrTimeout
	}
	start := time.Now()
	y, err := b.predict(raw)
	if err == nil && len(y) != len(raw) {
		err = errs.E(errs.Internal, "the model returned a wrong number of predictions")
	}
	b.observe(len(raw), noWait, time.Since(start))
	if err != nil {
		return nil, errs.Invalidf("%s", errs.MessageOf(err))
	}
	if ctx.Err() != nil {
		return nil, ErrTimeout
	}
	return y[:len(y):len(y)], nil
}

// run predicts a batch in one call and hands each request its share.
func (b *batcher) run(batch []*job) {
	start := time.Now()
	live := batch[:0:0]
	queued := make([]time.Duration, 0, len(batch))
	var raw [][]float64
	for _, j := range batch {
		if j.ctx.Err() != nil { // given up: no need to predict
			j.err = ErrTimeout
			close(j.done)
			continue
		}
		queued = append(queued, start.Sub(j.enq))
		live = append(live, j)
		if len(batch) == 1 {
			raw = j.raw
		} else {
			raw = append(raw, j.raw...)
		}
	}
	if len(live) == 0 {
		return
	}
	y, err := b.predict(raw)
	if err == nil && len(y) != len(raw) {
		err = errs.E(errs.Internal, "the model returned a wrong number of predictions")
	}
	b.observe(len(raw), queued, time.Since(start))
	if err != nil && len(live) > 1 {
		// One request's rows failed the batch: answer each on its own.
		for _, j := range live {
			j.y, j.err = b.predict(j.raw)
			if j.err != nil {
				j.err = errs.Invalidf("%s", errs.MessageOf(j.err))
			}
			close(j.done)
		}
		return
	}
	if err != nil {
		err = errs.Invalidf("%s", errs.MessageOf(err))
	}
	off := 0
	for _, j := range live {
		if err == nil {
			j.y = y[off : off+len(j.raw) : off+len(j.raw)]
			off += len(j.raw)
		}
		j.err = err
		close(j.done)
	}
}
