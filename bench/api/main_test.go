package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLoad is the short version of the load test: 100 clients for 10 s
// against a hygie process on loopback, every kind of call answered, and
// not one error.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 s load test")
	}
	var log strings.Builder
	rep, err := run(context.Background(), options{clients: 100, duration: 10 * time.Second, patients: 2000, seed: 1}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	rep.print(os.Stdout)
	if rep.errors() > 0 {
		t.Fatalf("%d of %d requests failed, first: %s\n%s", rep.errors(), rep.Total.Requests, rep.firstError, log.String())
	}
	for _, s := range rep.Kinds {
		if s.Requests == 0 || s.P50 <= 0 || s.Max < s.P99 || s.P99 < s.P50 {
			t.Errorf("%s: %d requests, p50 %s, p99 %s, max %s", s.Kind, s.Requests, s.P50, s.P99, s.Max)
		}
	}
	if rep.Total.Requests < 1000 {
		t.Errorf("only %d requests in 10 s from 100 clients", rep.Total.Requests)
	}
}
