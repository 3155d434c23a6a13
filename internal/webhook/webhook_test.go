package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hygie-health/hygie/internal/webhook"
)

func TestPostSignsAndDelivers(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	var sigs []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		json.Unmarshal(b, &v)
		mu.Lock()
		got = append(got, v)
		sigs = append(sigs, r.Header.Get(webhook.SignatureHeader))
		if r.Header.Get("Content-Type") != "application/json" || webhook.Sign([]byte("k3y"), b) != r.Header.Get(webhook.SignatureHeader) && r.Header.Get(webhook.SignatureHeader) != "" {
			t.Errorf("bad request headers %v", r.Header)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError) // a failing receiver changes nothing for the sender
	}))
	defer ts.Close()
	t.Setenv("HYGIE_TEST_HOOK_KEY", "k3y")
	var s webhook.Sender
	s.Post(context.Background(), ts.URL, "HYGIE_TEST_HOOK_KEY", "proj", map[string]string{"event": "promotion"})
	s.Post(context.Background(), ts.URL, "", "proj", map[string]string{"event": "alert"})
	s.Post(context.Background(), "http://127.0.0.1:1/unreachable", "", "proj", map[string]string{"event": "lost"})
	s.Wait()
	if len(got) != 2 {
		t.Fatalf("%d deliveries", len(got))
	}
	signed := 0
	for _, sig := range sigs {
		if sig != "" {
			signed++
		}
	}
	if signed != 1 {
		t.Fatalf("%d signed deliveries, want 1", signed)
	}
}
