package app

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Draining before a shutdown. A load balancer keeps connections to a
// replica open and sends the next request on any of them: closing the
// listener and the idle connections at once (http.Server.Shutdown) races
// with requests already on their way, which the balancer sees as reset
// connections. With shutdown_drain set, SIGTERM first starts a drain of
// that length: /readyz answers 503 (balancers with active health checks
// stop sending), and every answer carries "Connection: close" (a balancer
// opens a new connection for its next request instead of reusing one that
// is about to close). Only then does the graceful shutdown close the
// listener: connection attempts are refused, which every balancer retries
// elsewhere, and no idle connection is left to race with.

// errDraining is the readiness failure while draining.
var errDraining = errors.New("shutting down")

// notDraining is a readiness check: it fails once the drain has begun.
func (a *App) notDraining(context.Context) error {
	if a.draining.Load() {
		return errDraining
	}
	return nil
}

// closeWhenDraining closes each connection after its answer once the drain
// has begun.
func (a *App) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// drain begins the drain and waits d.
func (a *App) drain(d time.Duration) {
	if d <= 0 {
		return
	}
	a.draining.Store(true)
	a.Log.Info("draining before shutdown", "for", d)
	time.Sleep(d)
}
