package deid

import (
	"testing"

	"github.com/hygie-health/hygie/internal/privacy/deid/data"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Hôpital":         "hopital",
		"LEFÈVRE":         "lefevre",
		"Œdème":           "oedeme",
		"Jean-François":   "jean-francois",
		"d’Alzheimer":     "d'alzheimer",
		"e\u0301te\u0301": "ete", // decomposed accents
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
		if hashFold(in) != hashString(fnvOffset, want) {
			t.Errorf("hashFold(%q) differs from the hash of %q", in, want)
		}
	}
}

func TestTokenize(t *testing.T) {
	s := "Dr Jean-Pierre d'Alzheimer 1er\nM. LE GALL, 2A"
	var got []string
	for _, tk := range tokenize(s, nil) {
		got = append(got, s[tk.start:tk.end])
	}
	want := []string{"Dr", "Jean-Pierre", "d'", "Alzheimer", "1", "er", "M", ".", "LE", "GALL", ",", "2", "A"}
	if len(got) != len(want) {
		t.Fatalf("tokens %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tokens %q, want %q", got, want)
		}
	}
}

// The matcher: a trie over folded tokens, longest match, categories OR-ed.
func TestMatcher(t *testing.T) {
	l := &data.Lists{
		FirstNames: []data.FirstName{{Name: "Marie", Sex: 'F'}, {Name: "Jean-Pierre", Sex: 'M'}},
		LastNames:  []string{"Le Gall", "de La Tour", "Martin"},
		Communes:   []data.Commune{{Name: "Saint-Étienne", PostalCodes: []string{"42000"}, Population: 170000}, {Name: "La Roche-sur-Yon", PostalCodes: []string{"85000"}}},
		Hospitals:  []string{"Hôpital Necker-Enfants malades"},
		Triggers:   []string{"maladie"},
	}
	lx := buildLexicon(l, nil)
	cases := []struct {
		text string
		tok  int
		want uint32
		not  uint32
	}{
		{"MARIE", 0, gzFirst | gzFirstF, gzLast},
		{"Jean-Pierre", 0, gzFirst | gzFirstM, 0},
		{"jean-pierre", 0, 0, gzFirst}, // lower-case words are only looked up as keywords
		{"Dr LE GALL", 1, gzLast | gzMulti, 0},
		{"Dr LE GALL", 2, gzLast | gzMulti, 0},
		{"Mme de la Tour", 3, gzLast, 0},
		{"à SAINT-ETIENNE", 1, gzCommune | gzCommuneBig, 0},
		{"à La Roche-sur-Yon", 2, gzCommune | gzMulti, 0},
		{"Le Gallois", 0, 0, gzLast}, // no partial match
		{"hopital necker-enfants malades", 2, gzHosp, 0},
		{"une maladie", 1, gzTrigger, 0},
		{"Martin", 0, gzLast, gzFirst},
	}
	for _, c := range cases {
		toks, hashes := tokenizeHashed(c.text, nil, nil, true)
		bits := make([]uint32, len(toks))
		lx.annotate(c.text, toks, hashes, bits)
		if bits[c.tok]&c.want != c.want || bits[c.tok]&c.not != 0 {
			t.Errorf("%q token %d: bits %b, want %b and not %b", c.text, c.tok, bits[c.tok], c.want, c.not)
		}
	}
	// Excluded names leave the person and place categories.
	lx2 := buildLexicon(l, map[string]bool{"martin": true})
	toks, h := tokenizeHashed("Martin", nil, nil, true)
	b := make([]uint32, 1)
	lx2.annotate("Martin", toks, h, b)
	if b[0]&gzLast != 0 {
		t.Errorf("excluded name still in the gazetteer")
	}
}

// The hashes computed while tokenizing equal those of hashFold (words and
// numbers) and of the raw bytes (punctuation).
func TestTokenHashes(t *testing.T) {
	for _, s := range []string{
		"Mme DUPONT Jean-Pierre, né le 12/03/1950 à Besançon (Doubs).",
		"Œdème, cœur, ÆTHER straße d'Alzheimer l’Hôpital Saint-Étienne",
		"Ｆｕｌｌ width, e\u0301te\u0301 combining, İstanbul Kıvılcım Łódź 2A 1er",
		"\xff\xfe invalid \u00a0nbsp\u202f; x-y -z a-- 'quote' «guillemets» 3°C",
	} {
		toks, hashes := tokenizeHashed(s, nil, nil, true)
		if len(hashes) != len(toks) {
			t.Fatalf("%d hashes for %d tokens", len(hashes), len(toks))
		}
		for i, tk := range toks {
			w := s[tk.start:tk.end]
			want := hashFold(w)
			if tk.kind == tkPunct {
				want = hashString(fnvOffset, w)
			}
			if hashes[i] != want {
				t.Errorf("%q: token %q hash differs", s, w)
			}
		}
	}
}
