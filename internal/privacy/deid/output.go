package deid

import (
	"fmt"
	"strings"
)

// Mode says what Deidentify does with the entities it finds.
type Mode int

// Modes.
const (
	Mask      Mode = iota // replace each entity with its label: "[NOM]"
	Surrogate             // replace with realistic, consistent fake values
	Tag                   // leave the text unchanged; report the entities only
)

// ParseMode reads "mask", "surrogate" or "tag".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "mask", "":
		return Mask, nil
	case "surrogate":
		return Surrogate, nil
	case "tag":
		return Tag, nil
	}
	return Mask, fmt.Errorf("deid: mode %q: want mask, surrogate or tag", s)
}

func (m Mode) String() string {
	switch m {
	case Surrogate:
		return "surrogate"
	case Tag:
		return "tag"
	}
	return "mask"
}

var maskText = func() (m [numLabels]string) {
	for l := range m {
		m[l] = "[" + labelNames[l] + "]"
	}
	return m
}()

// Result is a de-identified document: the new text and the entities found,
// with offsets into the ORIGINAL text.
type Result struct {
	Text     string
	Entities []Entity
}

// Deidentify finds the entities of text and rewrites it according to mode.
// sur supplies surrogates (nil: a fresh random key is drawn for this call).
func (d *Deidentifier) Deidentify(text string, mode Mode, sur *Surrogates) Result {
	x := d.getDoc(text)
	defer d.pool.Put(x)
	d.analyse(x)
	res := Result{Entities: toEntities(text, x.out)}
	switch mode {
	case Tag:
		res.Text = text
	case Mask:
		res.Text = rewrite(text, x.out, func(i int, sp span) string { return maskText[sp.label] })
	case Surrogate:
		if sur == nil {
			sur = NewSurrogates(nil)
		}
		ds := sur.document(text, x.out)
		res.Text = rewrite(text, x.out, func(i int, sp span) string { return ds.replacement(i) })
	}
	return res
}

// rewrite replaces the spans (sorted, non-overlapping) of s.
func rewrite(s string, spans []span, repl func(i int, sp span) string) string {
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	for i, sp := range spans {
		if int(sp.start) < pos {
			continue // cannot happen: spans never overlap
		}
		b.WriteString(s[pos:sp.start])
		b.WriteString(repl(i, sp))
		pos = int(sp.end)
	}
	b.WriteString(s[pos:])
	return b.String()
}
