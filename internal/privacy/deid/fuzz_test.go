package deid

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDetect checks the invariants of the whole pipeline (the pattern layer
// first): it never panics, entities are sorted, within the text, do not
// overlap, and their text is what their offsets say.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		"N° SS : 1 43 11 75 605 433 12", "+33 (0)1 53 86 96 57", "0033 6 12 34 56 78", "le 12/03/2024", "1er mars",
		"né(e) le : 04/07/1951", "IPP : 0472112233", "3 rue du 8 Mai 1945, 38000 Grenoble Cedex 9", "a@b.fr",
		"CHU de Grenoble", "Dr Jean-Pierre MARTIN", "2 86 04 2A 102 703 10", "12.03.24.5", "@@@", "+", "1er", "N°",
		"demeurant rue", "Hôpital", "\xff\xfe", "🙂 Mme Léa 🙂",
	} {
		f.Add(s)
	}
	d, err := New(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ents := d.Detect(s)
		n := utf8.RuneCountInString(s)
		var runes []rune
		if utf8.ValidString(s) {
			runes = []rune(s)
		}
		prevEnd := 0
		for _, e := range ents {
			if e.Start < prevEnd || e.End <= e.Start || e.End > n {
				t.Fatalf("bad entity %+v (text of %d code points)", e, n)
			}
			prevEnd = e.End
			if runes != nil && string(runes[e.Start:e.End]) != e.Text {
				t.Fatalf("entity %+v does not match its offsets", e)
			}
		}
		r := d.Deidentify(s, Mask, nil)
		if utf8.ValidString(s) && !utf8.ValidString(r.Text) {
			t.Fatal("masking broke UTF-8")
		}
		for _, e := range ents {
			if len(e.Text) > 6 && containsWord(r.Text, e.Text) && !strings.Contains(strings.ReplaceAll(s, e.Text, ""), e.Text) {
				// Only fails when the entity text occurs nowhere else,
				// and as a whole (not inside a longer word: "AAAAAAA0").
				t.Fatalf("masked text still holds %q", e.Text)
			}
		}
	})
}

// FuzzParseLine: the JSONL reader never panics, and whatever it accepts is
// valid UTF-8 within the size limit.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{`{"id":"a","text":"b"}`, `{"id":1,"text":""}`, `{"id":"a","text":"\ud800"}`, `{`, `[]`, `{"id":"a","text":"b"} x`, "{\"id\":\"a\",\"text\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := ParseLine(line, 1000)
		if err != nil {
			if strings.Contains(err.Error(), string(line)) && len(line) > 8 {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if !utf8.ValidString(in.Text) || len(in.Text) > 1000 || len(in.ID) == 0 {
			t.Fatalf("accepted %q → %+v", line, in)
		}
	})
}

// containsWord reports whether w occurs in s with no letter or digit
// glued to it on either side.
func containsWord(s, w string) bool {
	for from := 0; ; {
		p := strings.Index(s[from:], w)
		if p < 0 {
			return false
		}
		p += from
		q := p + len(w)
		if !alnumBefore(s, p) && !alnumAt(s, q) {
			return true
		}
		from = p + 1
	}
}
