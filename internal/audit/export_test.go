package audit

import "time"

// SetFullWalk changes VerifyRecent's thresholds for a test.
func SetFullWalk(events int64, every time.Duration) func() {
	e, d := fullWalkEvents, fullWalkEvery
	fullWalkEvents, fullWalkEvery = events, every
	return func() { fullWalkEvents, fullWalkEvery = e, d }
}
