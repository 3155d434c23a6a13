package deid

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSurrogatesConsistentAndFormatted(t *testing.T) {
	d := testDeid(t)
	text := "Patient : DUPONT Marcel, né le 12/03/1950.\n" +
		"Vu le 3 janvier 2024 puis le 10/01/2024. M. Dupont vit au 12 bis rue de la Paix, 69003 Lyon.\n" +
		"Tél. 04 72 11 22 33 ; NIR 1 50 03 69 123 456 ; IPP : 80012345.\nDr Claire MARTIN rappelle M. DUPONT."
	sur := NewSurrogates([]byte("a test key, not a secret at all"))
	r1 := d.Deidentify(text, Surrogate, sur)
	r2 := d.Deidentify(text, Surrogate, sur)
	if r1.Text != r2.Text {
		t.Fatal("same key and text must give the same surrogates")
	}
	for _, e := range r1.Entities {
		if strings.Contains(r1.Text, e.Text) && len(e.Text) > 3 {
			t.Errorf("original %s %q still in the output:\n%s", e.Label, e.Text, r1.Text)
		}
	}
	// The three mentions of the patient's name get one surrogate, in the
	// case of each mention.
	up := regexp.MustCompile(`Patient : ([A-ZÀ-Ý' -]+) `).FindStringSubmatch(r1.Text)
	if up == nil {
		t.Fatalf("no upper-case surrogate name:\n%s", r1.Text)
	}
	if strings.Count(r1.Text, up[1]) != 2 {
		t.Errorf("upper-case surrogate %q should appear twice:\n%s", up[1], r1.Text)
	}
	title := titleCase(strings.ToLower(up[1]))
	if !strings.Contains(r1.Text, "M. "+title+" vit") && !strings.Contains(r1.Text, "M. "+up[1]+" vit") {
		t.Errorf("title-case mention not replaced consistently (%q):\n%s", title, r1.Text)
	}
	// Formats.
	for _, re := range []string{
		`né le \d\d/\d\d/\d{4}`,
		`Vu le \d{1,2} [a-zéû]+ \d{4}`,
		`Tél\. 04 \d\d \d\d \d\d \d\d`,
		`IPP : \d{8}`,
		`\d+ bis rue `,
		`, \d{5} `,
	} {
		if !regexp.MustCompile(re).MatchString(r1.Text) {
			t.Errorf("format %s not kept:\n%s", re, r1.Text)
		}
	}
	// Another key gives other surrogates.
	r3 := d.Deidentify(text, Surrogate, NewSurrogates([]byte("another key, equally not secret")))
	if r3.Text == r1.Text {
		t.Error("surrogates do not depend on the key")
	}
}

func TestSurrogateNIRKeyValid(t *testing.T) {
	sur := NewSurrogates([]byte("k"))
	for i, nir := range []string{"1 43 11 75 605 433 12", "150080127794880", "2 86 04 2A 102 703 10"} {
		ds := sur.document(nir, []span{{start: 0, end: int32(len(nir)), label: Secu}})
		v := ds.replacement(0)
		if !NIRKeyValid(v) || len(v) != len(nir) || v == nir {
			t.Errorf("%d: surrogate %q of %q: valid=%v", i, v, nir, NIRKeyValid(v))
		}
	}
}

func TestShiftDateKeepsLayout(t *testing.T) {
	for _, c := range []struct {
		in   string
		days int
		want string
	}{
		{"12/03/2024", 1, "13/03/2024"},
		{"31.12.23", 1, "01.01.24"},
		{"3-1-2020", -3, "31-12-2019"},
		{"2024-02-28", 2, "2024-03-01"},
		{"3 janvier 2024", 30, "2 février 2024"},
		{"1er mars", -1, "29 février"},
		{"12 janv. 2020", 31, "12 févr. 2020"},
		{"3 MARS 2024", 1, "4 MARS 2024"},
		{"12/03", 1, "13/03"},
	} {
		got, ok := shiftDate(c.in, c.days)
		if !ok || got != c.want {
			t.Errorf("shiftDate(%q, %d) = %q, %v; want %q", c.in, c.days, got, ok, c.want)
		}
	}
	if _, ok := shiftDate("31/02/2024", 1); ok {
		t.Error("invalid date shifted")
	}
}

func TestModes(t *testing.T) {
	d := testDeid(t)
	text := "Mme Zoé Durand, née le 1er mars 1960 🙂, tél. 06 12 34 56 78."
	tag := d.Deidentify(text, Tag, nil)
	if tag.Text != text || len(tag.Entities) == 0 {
		t.Fatalf("tag mode: %q %v", tag.Text, tag.Entities)
	}
	mask := d.Deidentify(text, Mask, nil)
	if want := "Mme [PRENOM] [NOM], née le [DATE_NAISSANCE] 🙂, tél. [TEL]."; mask.Text != want {
		t.Fatalf("mask mode: %q, want %q", mask.Text, want)
	}
	for _, m := range []string{"mask", "surrogate", "tag"} {
		if mo, err := ParseMode(m); err != nil || mo.String() != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, mo, err)
		}
	}
	if _, err := ParseMode("blur"); err == nil {
		t.Error("ParseMode accepted an unknown mode")
	}
	_ = utf8.RuneLen
}
