package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/serve"
)

// With shutdown_drain, a serving replica asked to stop keeps answering for
// the drain, with /readyz failing and every answer closing its connection,
// then stops accepting connections and returns.
func TestShutdownDrain(t *testing.T) {
	const drain = 600 * time.Millisecond
	cfg := sqliteConfig(t)
	cfg.ShutdownDrain = drain
	quiet := app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	full, err := app.Open(context.Background(), cfg, quiet) // creates the schema
	if err != nil {
		t.Fatal(err)
	}
	full.Close()
	a, err := app.OpenServing(context.Background(), cfg, quiet, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, l) }()

	get := func(path string) (int, bool, error) {
		resp, err := http.Get(url + path)
		if err != nil {
			return 0, false, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Close, nil
	}
	if status, closed, err := get("/readyz"); err != nil || status != http.StatusOK || closed {
		t.Fatalf("before the drain: /readyz %d, connection closed %v, %v (want 200, kept)", status, closed, err)
	}
	start := time.Now()
	cancel()
	time.Sleep(drain / 4)
	if status, closed, err := get("/readyz"); err != nil || status != http.StatusServiceUnavailable || !closed {
		t.Fatalf("draining: /readyz %d, connection closed %v, %v (want 503, closed)", status, closed, err)
	}
	if status, closed, err := get("/healthz"); err != nil || status != http.StatusOK || !closed {
		t.Fatalf("draining: /healthz %d, connection closed %v, %v (want 200, closed)", status, closed, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after the drain")
	}
	if d := time.Since(start); d < drain {
		t.Fatalf("stopped %v after the signal, before the end of the %v drain", d, drain)
	}
	if _, _, err := get("/healthz"); err == nil {
		t.Fatal("still accepting connections after the shutdown")
	}
}
