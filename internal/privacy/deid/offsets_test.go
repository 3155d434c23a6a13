package deid

import (
	"testing"
	"unicode/utf8"
)

// Offsets count code points of the original text, whatever precedes the
// entity: accents (2 bytes), emoji (4 bytes), combining marks, CJK.
func TestCodePointOffsets(t *testing.T) {
	d := testDeid(t)
	for _, text := range []string{
		"Hôpital Édouard Herriot : né le 04/07/1951, tél. 04 72 11 22 33.",
		"🙂🙂 Mme Léa Dupré 🚑 née le 04/07/1951 — ☎ 06 12 34 56 78 🙂",
		"e\u0301te\u0301 : DDN 04/07/1951, mail léa@example.fr? non: lea@example.fr",
		"病院 Patient : MARTIN Zoé, née le 3 août 1990.\r\n𝔘𝔫𝔦𝔠𝔬𝔡𝔢 06.12.34.56.78",
	} {
		runes := []rune(text)
		ents := d.Detect(text)
		if len(ents) == 0 {
			t.Errorf("%q: nothing found", text)
		}
		for _, e := range ents {
			if e.Start < 0 || e.End > len(runes) || e.Start >= e.End {
				t.Fatalf("%q: bad offsets %+v", text, e)
			}
			if got := string(runes[e.Start:e.End]); got != e.Text {
				t.Errorf("%q: offsets %d:%d give %q, entity text %q", text, e.Start, e.End, got, e.Text)
			}
		}
		if utf8.RuneCountInString(text) != len(runes) {
			t.Fatal("rune count")
		}
	}
}
