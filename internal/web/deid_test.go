package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
)

const deidSample = "Mme Hélène Dupont, tél 06 12 34 56 78, vue le 12/03/2024"

// part returns the part of s from the element with id to the end of the
// element (first closing tag given).
func part(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("page lacks %q", from)
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		t.Fatalf("page lacks %q after %q", to, from)
	}
	return s[i : i+j]
}

func TestDeidPage(t *testing.T) {
	e := newEnv(t)
	alice, victor := e.session("alice"), e.session("victor")

	r := e.get("/projects/sepsis/deid", alice)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `id="deid-form"`) || strings.Contains(r.Body, `id="deid-result"`) {
		t.Fatalf("GET as scientist: %d\n%s", r.StatusCode, r.Body)
	}
	for _, m := range []string{"GET", "POST"} {
		if r := e.do(m, "/projects/sepsis/deid", url.Values{"text": {deidSample}}, victor, ""); r.StatusCode != 403 {
			t.Errorf("%s as viewer: %d, want 403", m, r.StatusCode)
		}
	}

	post := func(text, mode string) response {
		t.Helper()
		return e.do("POST", "/projects/sepsis/deid", url.Values{"text": {text}, "mode": {mode}}, alice, "")
	}
	t.Run("mask", func(t *testing.T) {
		r := post(deidSample, "mask")
		if r.StatusCode != 200 {
			t.Fatalf("status %d\n%s", r.StatusCode, r.Body)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		out := part(t, r.Body, `id="deid-output"`, "</pre>")
		for _, l := range []string{"NOM", "PRENOM", "TEL", "DATE"} {
			want := `<mark class="ent ent-` + l + `">[` + l + `]<span class="label badge">` + l + `</span></mark>`
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %s", want)
			}
			if !strings.Contains(part(t, r.Body, `id="deid-legend"`, "</ul>"), `data-label="`+l+`"`) {
				t.Errorf("legend lacks %s", l)
			}
		}
		for _, secret := range []string{"Hélène", "Dupont", "06 12 34 56 78", "12/03/2024"} {
			if strings.Contains(out, secret) || strings.Contains(part(t, r.Body, `id="deid-plain"`, "</details>"), secret) {
				t.Errorf("the de-identified text shows %q", secret)
			}
		}
		// The original stays in the form, for the user to adjust.
		if !strings.Contains(part(t, r.Body, `id="deid-text"`, "</textarea>"), deidSample) {
			t.Error("the textarea lost the pasted text")
		}
		if !strings.Contains(r.Body, `<option value="mask" selected>`) {
			t.Error("mode not kept")
		}
	})
	t.Run("tag", func(t *testing.T) {
		r := post(deidSample, "tag")
		out := part(t, r.Body, `id="deid-output"`, "</pre>")
		if r.StatusCode != 200 || !strings.Contains(out, `<mark class="ent ent-NOM">Dupont<span class="label badge">NOM</span></mark>`) {
			t.Fatalf("status %d, output:\n%s", r.StatusCode, out)
		}
	})
	t.Run("surrogate", func(t *testing.T) {
		r := post(deidSample, "surrogate")
		out := part(t, r.Body, `id="deid-output"`, "</pre>")
		if r.StatusCode != 200 || strings.Contains(r.Body, `id="deid-unmarked"`) || strings.Count(out, `<mark class="ent`) < 4 {
			t.Fatalf("status %d, output:\n%s", r.StatusCode, out)
		}
		if strings.Contains(out, "06 12 34 56 78") || strings.Contains(out, "12/03/2024") {
			t.Errorf("surrogate output keeps an identifier:\n%s", out)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, text, mode string
			status           int
			msg              string
		}{
			{"empty", "  ", "mask", 400, "Paste a text"},
			{"bad mode", deidSample, "shout", 400, "mode must be"},
			{"too long", strings.Repeat("Dupont ", 20000), "mask", 413, "too long"},
		} {
			r := post(tc.text, tc.mode)
			if r.StatusCode != tc.status || !strings.Contains(r.Body, `id="deid-error"`) || !strings.Contains(r.Body, tc.msg) {
				t.Errorf("%s: status %d, want %d with %q", tc.name, r.StatusCode, tc.status, tc.msg)
			}
		}
	})
	t.Run("no entity", func(t *testing.T) {
		r := post("Patient stable, lactate normal.", "mask")
		if r.StatusCode != 200 || !strings.Contains(r.Body, `id="deid-none"`) {
			t.Errorf("status %d", r.StatusCode)
		}
	})
}

func TestVaultPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.as("admin")
	if _, err := e.auth.CreateUser(admin, "rita", "Rita Vidal", password, false); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.Grant(admin, "sepsis", "rita", auth.RoleReidentifier); err != nil {
		t.Fatal(err)
	}
	// The steward pseudonymizes the identifying extract: its IPPs go to the vault.
	src, err := e.datasets.Get(ctx, "sepsis", "admissions", 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.pseudo.PseudonymizeWith(e.as("sam"), src, pseudo.Spec{OutputName: "admissions_vault"})
	if err != nil || res.VaultEntries == 0 {
		t.Fatalf("pseudonymize: %+v, %v", res, err)
	}
	orig, err := e.datasets.Read(e.as("sam"), src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.datasets.Read(e.as("sam"), res.Version)
	if err != nil {
		t.Fatal(err)
	}
	ipp, pseudonym := orig.Rows[0][orig.Index("ipp")], out.Rows[0][out.Index("ipp")]
	if ipp == pseudonym || pseudonym == "" {
		t.Fatalf("pseudonym %q of %q", pseudonym, ipp)
	}
	rita, alice := e.session("rita"), e.session("alice")
	reason := "recontact the patient: incidental finding #42"

	// Links on the project page.
	for _, tc := range []struct {
		who         string
		deid, vault bool
	}{{"rita", false, true}, {"alice", true, false}, {"sam", true, false}, {"victor", false, false}} {
		p := e.get("/projects/sepsis", e.session(tc.who))
		if got := strings.Contains(p.Body, `id="project-deid-link"`); got != tc.deid {
			t.Errorf("%s: de-identify link %v, want %v", tc.who, got, tc.deid)
		}
		if got := strings.Contains(p.Body, `id="project-vault-link"`); got != tc.vault {
			t.Errorf("%s: vault link %v, want %v", tc.who, got, tc.vault)
		}
	}

	if r := e.get("/projects/sepsis/vault", rita); r.StatusCode != 200 || !strings.Contains(r.Body, `id="vault-form"`) {
		t.Fatalf("GET as reidentifier: %d", r.StatusCode)
	}
	for _, m := range []string{"GET", "POST"} {
		if r := e.do(m, "/projects/sepsis/vault", url.Values{"pseudonym": {pseudonym}, "reason": {reason}}, alice, ""); r.StatusCode != 403 || strings.Contains(r.Body, ipp) {
			t.Errorf("%s as scientist: %d, want 403", m, r.StatusCode)
		}
	}

	open := func(pseudonym, reason, domain string) response {
		t.Helper()
		return e.do("POST", "/projects/sepsis/vault", url.Values{"pseudonym": {pseudonym}, "reason": {reason}, "domain": {domain}}, rita, "")
	}
	r := open(pseudonym, reason, "")
	if r.StatusCode != 200 || r.Header.Get("Location") != "" {
		t.Fatalf("open: %d\n%s", r.StatusCode, r.Body)
	}
	if got := part(t, r.Body, `id="vault-original"`, "</dd>"); !strings.HasSuffix(got, ">"+ipp) {
		t.Errorf("original %q, want %q", got, ipp)
	}
	if !strings.Contains(r.Body, `id="vault-audited"`) || !strings.Contains(r.Body, reason) {
		t.Error("no notice that the access was audited with the reason")
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	if strings.Contains(part(t, r.Body, `id="vault-form"`, "</form>"), reason) {
		t.Error("the reason is prefilled for the next opening")
	}

	for _, tc := range []struct {
		name, pseudonym, reason, domain string
		status                          int
		msg                             string
	}{
		{"short reason", pseudonym, "because", "", 400, "at least 10 characters"},
		{"no pseudonym", "", reason, "", 400, "pseudonym is required"},
		{"bad domain", pseudonym, reason, "Bad Domain!", 400, "pseudonym domain"},
		{"unknown pseudonym", "PS00000000000000000000", reason, "", 404, "not found"},
		{"other domain", pseudonym, reason, "research", 404, "not found"},
	} {
		r := open(tc.pseudonym, tc.reason, tc.domain)
		if r.StatusCode != tc.status || !strings.Contains(r.Body, `id="vault-error"`) || !strings.Contains(r.Body, tc.msg) || strings.Contains(r.Body, ipp) {
			t.Errorf("%s: status %d, want %d with %q", tc.name, r.StatusCode, tc.status, tc.msg)
		}
	}

	evs, err := e.audit.List(ctx, audit.Filter{Action: "vault.reidentify", Actor: "rita"})
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	for _, ev := range evs {
		if strings.Contains(ev.Target+ev.Detail+ev.Reason, ipp) {
			t.Errorf("audit event %d holds the original value", ev.Seq)
		}
		if ev.Outcome == audit.Success && ev.Reason == reason && ev.Project == "sepsis" && strings.Contains(ev.Target, pseudonym) {
			ok = true
		}
	}
	if !ok {
		t.Errorf("no successful vault.reidentify event with the reason among %+v", evs)
	}

	// The hourly limit.
	e.pseudo.Vault().HourlyLimit = len(evs)
	if r := open(pseudonym, reason, ""); r.StatusCode != 429 || !strings.Contains(r.Body, "limit reached") || strings.Contains(r.Body, ipp) {
		t.Errorf("over the limit: status %d, want 409", r.StatusCode)
	}
}
