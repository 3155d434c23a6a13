package auth_test

import (
	"testing"

	"github.com/hygie-health/hygie/internal/auth"
)

// Annotation: annotators annotate (and nothing else in annotation),
// scientists and admins manage projects, clinician-validators and admins
// adjudicate.
func TestAnnotationPermissions(t *testing.T) {
	want := map[auth.Perm][]auth.Role{
		auth.PermAnnotationWrite:      {auth.RoleAnnotator},
		auth.PermAnnotationManage:     {auth.RoleAdmin, auth.RoleScientist},
		auth.PermAnnotationAdjudicate: {auth.RoleAdmin, auth.RoleClinicianValidator},
	}
	for perm, roles := range want {
		for _, r := range auth.Roles {
			has := false
			for _, x := range roles {
				has = has || x == r
			}
			if auth.RoleHas(r, perm) != has {
				t.Errorf("role %s and %s: got %v, want %v", r, perm, !has, has)
			}
		}
	}
}
