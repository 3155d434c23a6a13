package deid

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// Document is one annotated (or de-identified) text.
type Document struct {
	ID       string   `json:"id"`
	Text     string   `json:"text"`
	Entities []Entity `json:"entities"`
}

// Score counts exact-span matches for one label (or overall).
type Score struct {
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

func (s *Score) finish() {
	if s.TP+s.FP > 0 {
		s.Precision = float64(s.TP) / float64(s.TP+s.FP)
	}
	if s.TP+s.FN > 0 {
		s.Recall = float64(s.TP) / float64(s.TP+s.FN)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
}

// Report is the result of an evaluation: exact-span scores per label and
// micro-averaged over all labels, the share of gold identifying characters
// left unmasked (Leak) and the share of masked characters that were not
// identifying (OverMask).
type Report struct {
	Documents      int              `json:"documents"`
	Labels         map[string]Score `json:"labels"`
	Micro          Score            `json:"micro"`
	Leak           float64          `json:"leak"`
	OverMask       float64          `json:"over_mask"`
	GoldChars      int              `json:"gold_chars"`
	LeakedChars    int              `json:"leaked_chars"`
	MaskedChars    int              `json:"masked_chars"`
	OverMaskedChar int              `json:"over_masked_chars"`
}

// Evaluator accumulates gold and predicted entities document by document.
type Evaluator struct {
	r      Report
	labels [numLabels]Score
}

// Add scores the predicted entities of one document against its gold
// entities. Offsets are code points; textLen is the text length in code
// points.
func (e *Evaluator) Add(gold, pred []Entity, textLen int) {
	e.r.Documents++
	type key struct {
		s, e int
		l    Label
	}
	g := make(map[key]bool, len(gold))
	for _, x := range gold {
		g[key{x.Start, x.End, x.Label}] = true
	}
	p := make(map[key]bool, len(pred))
	for _, x := range pred {
		k := key{x.Start, x.End, x.Label}
		if p[k] {
			continue
		}
		p[k] = true
		if g[k] {
			e.labels[x.Label].TP++
		} else {
			e.labels[x.Label].FP++
		}
	}
	for k := range g {
		if !p[k] {
			e.labels[k.l].FN++
		}
	}
	// Character coverage.
	gm := coverage(gold, textLen)
	pm := coverage(pred, textLen)
	for i := range gm {
		if gm[i] {
			e.r.GoldChars++
			if !pm[i] {
				e.r.LeakedChars++
			}
		}
		if pm[i] {
			e.r.MaskedChars++
			if !gm[i] {
				e.r.OverMaskedChar++
			}
		}
	}
}

func coverage(ents []Entity, n int) []bool {
	m := make([]bool, n)
	for _, x := range ents {
		for i := max(0, x.Start); i < x.End && i < n; i++ {
			m[i] = true
		}
	}
	return m
}

// Report returns the scores so far.
func (e *Evaluator) Report() Report {
	r := e.r
	r.Labels = map[string]Score{}
	var micro Score
	for l := Nom; l < numLabels; l++ {
		s := e.labels[l]
		if s.TP+s.FP+s.FN == 0 {
			continue
		}
		micro.TP += s.TP
		micro.FP += s.FP
		micro.FN += s.FN
		s.finish()
		r.Labels[l.String()] = s
	}
	micro.finish()
	r.Micro = micro
	if r.GoldChars > 0 {
		r.Leak = float64(r.LeakedChars) / float64(r.GoldChars)
	}
	if r.MaskedChars > 0 {
		r.OverMask = float64(r.OverMaskedChar) / float64(r.MaskedChars)
	}
	return r
}

// SortedLabels returns the label names of a report in the canonical order.
func (r Report) SortedLabels() []string {
	var out []string
	for l := Nom; l < numLabels; l++ {
		if _, ok := r.Labels[l.String()]; ok {
			out = append(out, l.String())
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		la, _ := ParseLabel(a)
		lb, _ := ParseLabel(b)
		return cmp.Compare(la, lb)
	})
	return out
}

// ReadDocuments reads annotated documents, one JSON object per line (id,
// text, entities with code-point offsets). name is used in errors, which
// give the line but never quote the content; lines longer than maxBytes are
// refused.
func ReadDocuments(r io.Reader, name string, maxBytes int) ([]Document, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var docs []Document
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			in, perr := ParseLine(line, maxBytes)
			if perr != nil {
				return nil, fmt.Errorf("deid: %s line %d: %v", name, n, perr)
			}
			var doc struct {
				Entities []Entity `json:"entities"`
			}
			if jerr := json.Unmarshal(line, &doc); jerr != nil {
				return nil, fmt.Errorf("deid: %s line %d: bad entities", name, n)
			}
			id := string(in.ID)
			var s string
			if json.Unmarshal(in.ID, &s) == nil {
				id = s
			}
			cps := utf8.RuneCountInString(in.Text)
			for _, en := range doc.Entities {
				if en.Start < 0 || en.End > cps || en.Start >= en.End {
					return nil, fmt.Errorf("deid: %s line %d: entity offsets outside the text", name, n)
				}
			}
			docs = append(docs, Document{ID: id, Text: in.Text, Entities: doc.Entities})
		}
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("deid: %w", err)
		}
	}
}
