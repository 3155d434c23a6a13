package auth

import (
	"context"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/errs"
)

type ctxKey struct{}

// WithPrincipal records the acting principal in ctx (and its name as the
// audit actor).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return audit.WithActor(context.WithValue(ctx, ctxKey{}, p), p.Username)
}

// FromContext returns the acting principal, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Require checks that the principal in ctx holds perm in project. Services
// call it for checks that depend on the data (for example the privacy level
// of a dataset version), on top of the per-route check of the HTTP layer.
func Require(ctx context.Context, project string, perm Perm) error {
	p := FromContext(ctx)
	if p == nil {
		return errs.Unauthenticatedf("authentication required")
	}
	if !p.Can(project, perm) {
		return errs.Forbiddenf("permission %s required in project %q", perm, project)
	}
	return nil
}
