package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
)

// auditPageSize is how many events one audit page lists.
const auditPageSize = 50

// auditFilter is the audit view's filter form, as typed.
type auditFilter struct {
	User, Project, Action, Since, Until string
	Before                              int64
}

type auditData struct {
	Instance bool   // the instance-wide view (all projects, chain status)
	Project  string // the project of a project view
	Path     string // this view's URL path, for the form and paging links
	Filter   auditFilter
	Filtered bool
	Error    string
	Events   []audit.Event
	Older    string // URL of the next (older) page, if any
	Newest   string // URL of the first page, when not on it
	Chain    *audit.Report
}

// adminAudit shows every audit event, and first whether the chain is intact.
func (u *UI) adminAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := u.d.Audit.VerifyRecent(r.Context())
	if err != nil {
		return err
	}
	d := auditData{Instance: true, Path: "/admin/audit", Chain: &rep}
	return u.auditView(w, r, d, "Audit log")
}

// projectAudit shows one project's audit events.
func (u *UI) projectAudit(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	d := auditData{Project: name, Path: "/projects/" + url.PathEscape(name) + "/audit"}
	return u.auditView(w, r, d, "Audit log · "+name)
}

func (u *UI) auditView(w http.ResponseWriter, r *http.Request, d auditData, title string) error {
	q := r.URL.Query()
	d.Filter = auditFilter{User: strings.TrimSpace(q.Get("user")), Action: strings.TrimSpace(q.Get("action")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
	f := audit.Filter{Actor: d.Filter.User, Action: d.Filter.Action, Limit: auditPageSize + 1}
	if d.Instance {
		d.Filter.Project = strings.TrimSpace(q.Get("project"))
		f.Project = d.Filter.Project
	} else {
		f.Project = d.Project
	}
	var problems []string
	var err error
	if f.Since, err = parseDay(d.Filter.Since); err != nil {
		problems = append(problems, "“From” must be a date written YYYY-MM-DD.")
	}
	if f.Until, err = parseDay(d.Filter.Until); err != nil {
		problems = append(problems, "“To” must be a date written YYYY-MM-DD.")
	} else if !f.Until.IsZero() {
		f.Until = f.Until.AddDate(0, 0, 1) // the whole day is included
	}
	if s := q.Get("before"); s != "" {
		if d.Filter.Before, err = strconv.ParseInt(s, 10, 64); err != nil || d.Filter.Before <= 0 {
			problems = append(problems, "The page position is not valid.")
		}
		f.BeforeSeq = d.Filter.Before
	}
	d.Filtered = d.Filter.User != "" || d.Filter.Project != "" || d.Filter.Action != "" || d.Filter.Since != "" || d.Filter.Until != ""
	status := http.StatusOK
	if len(problems) > 0 {
		d.Error = strings.Join(problems, " ")
		status = http.StatusBadRequest
	} else {
		events, err := u.d.Audit.List(r.Context(), f)
		if err != nil {
			return err
		}
		if len(events) > auditPageSize {
			events = events[:auditPageSize]
			d.Older = d.pageURL(events[len(events)-1].Seq)
		}
		d.Events = events
		if d.Filter.Before > 0 {
			d.Newest = d.pageURL(0)
		}
	}
	nav := "projects"
	if d.Instance {
		nav = "audit"
	}
	return u.render(w, status, "audit", u.newPage(r, title, nav, d))
}

// pageURL is this view with the same filters, before event seq (0: newest).
func (d auditData) pageURL(before int64) string {
	v := url.Values{}
	for k, s := range map[string]string{"user": d.Filter.User, "project": d.Filter.Project, "action": d.Filter.Action,
		"since": d.Filter.Since, "until": d.Filter.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	if len(v) == 0 {
		return d.Path
	}
	return d.Path + "?" + v.Encode()
}

// parseDay reads an optional YYYY-MM-DD date, as a UTC midnight.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse("2006-01-02", s)
}
