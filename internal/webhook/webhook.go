// Package webhook delivers hygie's notifications (promotions, monitoring
// alerts) to HTTP endpoints: a JSON POST in the background, so a slow or
// failing receiver never holds up the action it reports, signed with
// HMAC-SHA256 when the receiver shares a secret. Bodies name models and
// metrics, never patient data.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Hygie-Signature"

// Sender posts notifications and can wait for those in flight.
type Sender struct {
	Client *http.Client // nil: 10 s timeout
	wg     sync.WaitGroup
}

// Sign returns the signature header value of body under key.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Post sends v as JSON to url in the background. secretEnv, if set, names
// the server's environment variable holding the signing key (the secret is
// never stored with the receiver's settings). project is for the logs.
func (s *Sender) Post(ctx context.Context, url, secretEnv, project string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), "POST", url, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hygie-webhook")
	if secretEnv != "" {
		if key := os.Getenv(secretEnv); key != "" {
			req.Header.Set(SignatureHeader, Sign([]byte(key), body))
		}
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		resp, err := client.Do(req)
		if err != nil {
			slog.Warn("webhook failed", "project", project, "host", req.URL.Host, "error", err.Error())
			return
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			slog.Warn("webhook refused", "project", project, "host", req.URL.Host, "status", resp.StatusCode)
		}
	}()
}

// Wait blocks until the notifications in flight are delivered or failed.
func (s *Sender) Wait() { s.wg.Wait() }
