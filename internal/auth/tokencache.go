package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// TokenCacheTTL bounds how long Authenticate trusts what it read about a
// token (its user, expiry, revocation and the user's grants) without
// reading the database again.
//
// Within one process the cache is exact: revoking a token or changing a
// grant through this Service empties it. The TTL only bounds what another
// process (another replica on the same PostgreSQL, or a manual database
// edit) changes: such a revocation takes effect within TokenCacheTTL.
// Expiry is checked on every request against the cached expiry time, so it
// is never late.
const TokenCacheTTL = 2 * time.Second

// maxCachedTokens bounds the cache; when full it is emptied (a cache miss
// costs one token and one grants query, as before the cache existed).
const maxCachedTokens = 10_000

// tokenCache remembers recent successful token lookups, keyed by the
// SHA-256 of the secret (the secret itself is never kept).
type tokenCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
	gen     uint64 // incremented by clear
}

// cachedToken is what Authenticate needs to accept a token again.
type cachedToken struct {
	principal *Principal // shared, read-only
	expires   *time.Time // the token's expiry, nil if none
	readAt    time.Time  // when the database was read
}

// get returns a fresh entry, or on a miss the generation to hand to put.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (e cachedToken, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok = c.entries[key]
	if !ok || now.Sub(e.readAt) >= TokenCacheTTL || now.Before(e.readAt) {
		return cachedToken{}, c.gen, false
	}
	return e, c.gen, true
}

// put stores an entry read from the database, unless the cache was cleared
// since get returned gen: what was read may predate a revocation.
func (c *tokenCache) put(key [sha256.Size]byte, e cachedToken, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedTokens {
		c.entries = map[[sha256.Size]byte]cachedToken{}
	}
	c.entries[key] = e
}

// clear forgets every entry: called on any change of tokens or grants made
// through this process.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.gen++
}
