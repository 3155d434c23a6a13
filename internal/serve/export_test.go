package serve

import "time"

// Test hooks.

// SlowPredict makes every model call of s sleep d first; set it before
// the first request.
func SlowPredict(s *Service, d time.Duration) { s.predictDelay = d }

// SetRand replaces the canary draw.
func SetRand(s *Service, f func() float64) { s.rand = f }

// SetNow replaces the clock of the prediction log.
func SetNow(s *Service, f func() time.Time) { s.now = f }

// Loaded is the number of model versions in memory.
func Loaded(s *Service) int { return s.cache.len() }
