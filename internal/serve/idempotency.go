package serve

import (
	"context"
	"crypto/sha256"
	"hash/fnv"
	"strconv"

	"github.com/google/uuid"

	"github.com/hygie-health/hygie/internal/errs"
)

// Idempotent inference. A load balancer that retries a request on another
// replica (nginx's proxy_next_upstream) cannot know whether the first
// replica logged its predictions before it died: without care a prediction
// could be logged twice. A request carrying an idempotency key (the
// Idempotency-Key header; nginx sets one per client request, the same on
// every retry) gets prediction ids derived from the key, the model
// version, the route, the request's inputs and the row, and the log ignores an
// id it already holds: a retry answers with the same ids and logs nothing
// new. Its canary draw is derived from the key too, so a retry takes the
// same route. Without a key, ids are fresh (UUIDv7) as before.

// MaxIdempotencyKey bounds the length of an idempotency key.
const MaxIdempotencyKey = 255

type idempotencyKeyCtx struct{}

// WithIdempotencyKey records the request's idempotency key in ctx (an
// empty key records nothing). A key longer than MaxIdempotencyKey bytes
// or holding characters outside printable ASCII is refused.
func WithIdempotencyKey(ctx context.Context, key string) (context.Context, error) {
	if key == "" {
		return ctx, nil
	}
	if len(key) > MaxIdempotencyKey {
		return ctx, errs.Invalidf("Idempotency-Key header: at most %d characters, got %d", MaxIdempotencyKey, len(key))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return ctx, errs.Invalidf("Idempotency-Key header: character %d is not printable ASCII", i+1)
		}
	}
	return context.WithValue(ctx, idempotencyKeyCtx{}, key), nil
}

func idempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKeyCtx{}).(string)
	return k
}

// idempotencyNS is the UUID namespace of derived prediction ids.
var idempotencyNS = uuid.MustParse("5d1f6c2e-8a7b-4c0e-9f3d-2b6a1e4c7d90")

// keyedIDs gives the rows of a request with an idempotency key their ids
// (also written to ids): derived from the key, the model version, the
// route, the request's inputs and the row's index, so that a retry of the
// same request gets the same ids and another request under the same key
// gets others.
func keyedIDs(key string, versionID int64, route string, rows []logRow, ids []string) {
	h := sha256.New()
	for _, r := range rows {
		h.Write([]byte(r.inputs))
		h.Write([]byte{0})
	}
	b := make([]byte, 0, len(key)+len(route)+80)
	b = append(b, key...)
	b = append(b, 0)
	b = strconv.AppendInt(b, versionID, 10)
	b = append(b, 0)
	b = append(b, route...)
	b = append(b, 0)
	b = h.Sum(b)
	n := len(b)
	for i := range rows {
		b = strconv.AppendInt(append(b[:n], 0), int64(i), 10)
		ids[i] = uuid.NewSHA1(idempotencyNS, b).String()
		rows[i].id = ids[i]
	}
}

// draw returns the request's canary draw in [0, 1): from its idempotency
// key when there is one (a retry draws the same), else at random.
func (s *Service) draw(ctx context.Context) float64 {
	key := idempotencyKey(ctx)
	if key == "" {
		return s.rand()
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return float64(h.Sum64()>>11) / (1 << 53)
}
