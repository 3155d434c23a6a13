package registry

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
	"time"
)

// Notification is the JSON body POSTed to a policy's webhooks after each
// promotion attempt and rollback. It names the model, never data.
type Notification struct {
	Event     string    `json:"event"` // promotion, refusal, override or rollback
	Project   string    `json:"project"`
	Promotion Promotion `json:"promotion"`
}

// notify posts p to the policy's webhooks in the background: a slow or
// failing receiver never holds up nor undoes a promotion. With secret_env
// set, the body is signed: X-Hygie-Signature: sha256=HEX(HMAC-SHA256).
func (s *Service) notify(ctx context.Context, pol *Policy, project string, p Promotion) {
	if len(pol.Webhooks) == 0 {
		return
	}
	event := map[string]string{"success": "promotion", "denied": "refusal", OutcomeOverride: "override", OutcomeRollback: "rollback"}[p.Outcome]
	body, _ := json.Marshal(Notification{Event: event, Project: project, Promotion: p})
	for _, w := range pol.Webhooks {
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), "POST", w.URL, bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "hygie-webhook")
		if w.SecretEnv != "" {
			if key := os.Getenv(w.SecretEnv); key != "" {
				mac := hmac.New(sha256.New, []byte(key))
				mac.Write(body)
				req.Header.Set("X-Hygie-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
			}
		}
		s.webhooks.Add(1)
		go func() {
			defer s.webhooks.Done()
			client := &http.Client{Timeout: 10 * time.Second}
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
}

// WaitWebhooks waits for the notifications in flight (tests, shutdown).
func (s *Service) WaitWebhooks() { s.webhooks.Wait() }
