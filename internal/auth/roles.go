package auth

import (
	"slices"
	"sort"
)

// Role is a per-project role (see DESIGN.md). Roles are granted per project;
// there is no implicit role.
type Role string

// The roles.
const (
	RoleAdmin              Role = "admin"
	RoleSteward            Role = "steward"
	RoleReidentifier       Role = "reidentifier"
	RoleScientist          Role = "scientist"
	RoleAnnotator          Role = "annotator"
	RoleClinicianValidator Role = "clinician-validator"
	RoleViewer             Role = "viewer"
)

// Roles lists every role, in the order the UI shows them.
var Roles = []Role{RoleAdmin, RoleSteward, RoleReidentifier, RoleScientist, RoleAnnotator, RoleClinicianValidator, RoleViewer}

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return slices.Contains(Roles, r) }

// Perm is a permission a route or operation requires.
type Perm string

// Project permissions: held through a role in that project.
const (
	PermProjectRead      Perm = "project.read"
	PermProjectManage    Perm = "project.manage" // members and settings
	PermAuditRead        Perm = "audit.read"     // the project's audit events
	PermDatasetRead      Perm = "dataset.read"   // pseudonymized and anonymized versions
	PermDatasetWrite     Perm = "dataset.write"  // import (non-identifying), transform
	PermIdentifyingData  Perm = "dataset.identifying"
	PermVaultOpen        Perm = "vault.open"
	PermRunRead          Perm = "run.read"
	PermRunWrite         Perm = "run.write"
	PermModelRead        Perm = "model.read"
	PermModelWrite       Perm = "model.write"
	PermModelPromote     Perm = "model.promote"
	PermModelSignoff     Perm = "model.signoff"
	PermPredict          Perm = "model.predict"
	PermFeedbackWrite    Perm = "feedback.write"
	PermAnnotationWrite  Perm = "annotation.write"
	PermAnnotationManage Perm = "annotation.manage"
	// PermAnnotationAdjudicate resolves annotators' disagreements into gold
	// data: it shows every annotator's answer side by side.
	PermAnnotationAdjudicate Perm = "annotation.adjudicate"
	PermPredictionsRead      Perm = "prediction.read"
	PermMonitoringRead       Perm = "monitoring.read"
)

// Instance permissions: held by instance administrators only.
const (
	PermUsersManage   Perm = "users.manage"
	PermProjectCreate Perm = "project.create"
	PermAuditReadAll  Perm = "audit.read_all"
)

// rolePerms is the whole access policy: deny unless listed here.
var rolePerms = map[Role][]Perm{
	RoleAdmin: {PermProjectRead, PermProjectManage, PermAuditRead, PermDatasetRead, PermRunRead,
		PermModelRead, PermModelPromote, PermPredictionsRead, PermMonitoringRead, PermAnnotationManage, PermAnnotationAdjudicate},
	RoleSteward:      {PermProjectRead, PermAuditRead, PermDatasetRead, PermDatasetWrite, PermIdentifyingData},
	RoleReidentifier: {PermProjectRead, PermVaultOpen},
	RoleScientist: {PermProjectRead, PermDatasetRead, PermDatasetWrite, PermRunRead, PermRunWrite,
		PermModelRead, PermModelWrite, PermModelPromote, PermPredict, PermPredictionsRead, PermMonitoringRead, PermAnnotationManage},
	RoleAnnotator:          {PermProjectRead, PermAnnotationWrite},
	RoleClinicianValidator: {PermProjectRead, PermModelRead, PermModelSignoff, PermPredict, PermFeedbackWrite, PermPredictionsRead, PermMonitoringRead, PermAnnotationAdjudicate},
	RoleViewer:             {PermProjectRead, PermRunRead, PermModelRead, PermMonitoringRead},
}

// RoleHas reports whether role r carries permission p.
func RoleHas(r Role, p Perm) bool { return slices.Contains(rolePerms[r], p) }

// PermsOf lists the permissions of a role, sorted.
func PermsOf(r Role) []Perm {
	out := slices.Clone(rolePerms[r])
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Principal is an authenticated user and the roles they hold.
type Principal struct {
	UserID   int64             `json:"id"`
	Username string            `json:"username"`
	Admin    bool              `json:"admin"` // instance administrator
	Roles    map[string][]Role `json:"roles"` // project name → roles
}

// Can reports whether p holds perm in project (empty for instance perms).
// Instance administrators manage users and projects and act as project
// admins everywhere, but hold no data role they were not granted: seeing
// identifying data or opening the vault always takes an explicit grant.
func (p *Principal) Can(project string, perm Perm) bool {
	if p == nil {
		return false
	}
	if project == "" {
		return p.Admin && (perm == PermUsersManage || perm == PermProjectCreate || perm == PermAuditReadAll)
	}
	if p.Admin && RoleHas(RoleAdmin, perm) {
		return true
	}
	for _, r := range p.Roles[project] {
		if RoleHas(r, perm) {
			return true
		}
	}
	return false
}

// Projects lists the projects where p holds a role.
func (p *Principal) Projects() []string {
	out := make([]string, 0, len(p.Roles))
	for k := range p.Roles {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
