package registry

import (
	"context"
)

// Notification is the JSON body POSTed to a policy's webhooks after each
// promotion attempt and rollback. It names the model, never data.
type Notification struct {
	Event     string    `json:"event"` // promotion, refusal, override or rollback
	Project   string    `json:"project"`
	Promotion Promotion `json:"promotion"`
}

// notify posts p to the policy's webhooks in the background (see
// internal/webhook: signed when secret_env is set).
func (s *Service) notify(ctx context.Context, pol *Policy, project string, p Promotion) {
	event := map[string]string{"success": "promotion", "denied": "refusal", OutcomeOverride: "override", OutcomeRollback: "rollback"}[p.Outcome]
	for _, w := range pol.Webhooks {
		s.webhooks.Post(ctx, w.URL, w.SecretEnv, project, Notification{Event: event, Project: project, Promotion: p})
	}
}

// WaitWebhooks waits for the notifications in flight (tests, shutdown).
func (s *Service) WaitWebhooks() { s.webhooks.Wait() }
