package blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a Store in memory, for tests and demos.
type Memory struct {
	now func() time.Time

	mu      sync.RWMutex
	objects map[string]memObject
}

type memObject struct {
	data    []byte // never modified once stored
	modTime time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{now: time.Now, objects: make(map[string]memObject)}
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	data, err := io.ReadAll(ctxReader{ctx, r})
	if err != nil {
		return Info{}, fmt.Errorf("blob put %q: %w", key, err)
	}
	obj := memObject{data: data, modTime: m.now()}
	m.mu.Lock()
	m.objects[key] = obj
	m.mu.Unlock()
	return Info{Key: key, Size: int64(len(data)), ModTime: obj.modTime}, nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := m.get(ctx, key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(obj.data)), nil
}

// Stat implements Store.
func (m *Memory) Stat(ctx context.Context, key string) (Info, error) {
	obj, err := m.get(ctx, key)
	if err != nil {
		return Info{}, err
	}
	return Info{Key: key, Size: int64(len(obj.data)), ModTime: obj.modTime}, nil
}

func (m *Memory) get(ctx context.Context, key string) (memObject, error) {
	if err := ValidateKey(key); err != nil {
		return memObject{}, err
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	m.mu.RLock()
	obj, ok := m.objects[key]
	m.mu.RUnlock()
	if !ok {
		return memObject{}, notFound(key)
	}
	return obj, nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Info
	m.mu.RLock()
	for key, obj := range m.objects {
		if strings.HasPrefix(key, prefix) {
			out = append(out, Info{Key: key, Size: int64(len(obj.data)), ModTime: obj.modTime})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objects, key)
	m.mu.Unlock()
	return nil
}

// Ping implements Store; memory is always ready.
func (m *Memory) Ping(ctx context.Context) error { return ctx.Err() }
