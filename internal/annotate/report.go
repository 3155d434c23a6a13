package annotate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Stat is a statistic that may be undefined (NaN), written as JSON null.
type Stat float64

// MarshalJSON writes null for NaN and infinities.
func (s Stat) MarshalJSON() ([]byte, error) {
	f := float64(s)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(math.Round(f*1e6) / 1e6)
}

// UnmarshalJSON reads a number or null (NaN).
func (s *Stat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = Stat(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*s = Stat(f)
	return err
}

func (s Stat) String() string {
	if math.IsNaN(float64(s)) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", float64(s))
}

// Answer is one annotator's (not skipped) answer to an item.
type Answer struct {
	Choices []string
	Spans   []Unit
}

// Item is an annotated task: its text length in code points (spans) and
// the answers, by annotator.
type Item struct {
	ID      int64
	Length  int
	Answers map[string]Answer
}

// Figures are the group statistics of one label (one-vs-rest) or overall.
type Figures struct {
	FleissKappa    Stat `json:"fleiss_kappa"`
	FleissItems    int  `json:"fleiss_items"`
	FleissExcluded int  `json:"fleiss_excluded"`
	Alpha          Stat `json:"krippendorff_alpha"`
	Prevalence     Stat `json:"prevalence"`
	// UnitizingAlpha is Krippendorff's uα (span projects).
	UnitizingAlpha *Stat `json:"unitizing_alpha,omitempty"`
	Spans          int   `json:"spans,omitempty"`
}

// Pair is the agreement of two annotators on the items both answered.
type Pair struct {
	A        string            `json:"a"`
	B        string            `json:"b"`
	Items    int               `json:"items"`
	Kappa    Stat              `json:"cohen_kappa"`
	Observed Stat              `json:"observed_agreement"`
	Labels   map[string]Stat   `json:"labels,omitempty"` // one-vs-rest kappa
	Span     *SpanF1           `json:"span,omitempty"`
	SpanBy   map[string]SpanF1 `json:"span_labels,omitempty"`
}

// Report is an agreement report.
type Report struct {
	Kind       string             `json:"kind"`
	Items      int                `json:"items"` // items with at least two answers
	Annotators []string           `json:"annotators"`
	Overall    Figures            `json:"overall"`
	Labels     map[string]Figures `json:"labels"`
	Pairs      []Pair             `json:"pairs"`
	Warnings   []string           `json:"warnings"`
}

// MinItems is the number of items below which agreement figures are
// flagged as unreliable.
const MinItems = 30

// Agreement computes the report of a project's items. Classification
// (single choice, rows): each answer is one label. Multi-label: each
// (item, label) is a binary unit "present"/"absent"; overall figures pool
// these units. Spans: the group and pairwise figures on labels are replaced
// by span F1 (pairwise) and unitizing alpha (group, per label; overall is
// the mean of the per-label uα weighted by their number of units). The
// unitizing continuum concatenates the texts of the items that have the
// most common number of answers (coders are exchangeable in uα, so
// different annotators may fill the slots of different items).
func Agreement(kind string, labels []string, items []Item) Report {
	r := Report{Kind: kind, Labels: map[string]Figures{}, Warnings: []string{}}
	names := map[string]bool{}
	var multi []Item
	for _, it := range items {
		if len(it.Answers) >= 2 {
			multi = append(multi, it)
			for a := range it.Answers {
				names[a] = true
			}
		}
	}
	for a := range names {
		r.Annotators = append(r.Annotators, a)
	}
	sort.Strings(r.Annotators)
	if r.Annotators == nil {
		r.Annotators = []string{}
	}
	r.Items = len(multi)
	if r.Items < MinItems {
		r.Warnings = append(r.Warnings, fmt.Sprintf("only %d items have two or more answers (fewer than %d): the figures are unreliable", r.Items, MinItems))
	}
	if kind == KindSpan {
		spanAgreement(&r, labels, multi)
		return r
	}
	// values[label or ""][item] = annotator → value
	overall := make([]map[string]string, len(multi))
	per := map[string][]map[string]string{}
	for _, l := range labels {
		per[l] = make([]map[string]string, len(multi))
	}
	for i, it := range multi {
		overall[i] = map[string]string{}
		for _, l := range labels {
			per[l][i] = map[string]string{}
		}
		for a, ans := range it.Answers {
			if kind == KindMultiLabel {
				for _, l := range labels {
					v := "absent"
					if slices.Contains(ans.Choices, l) {
						v = "present"
					}
					per[l][i][a] = v
				}
				continue
			}
			if len(ans.Choices) == 0 {
				continue
			}
			v := ans.Choices[0]
			overall[i][a] = v
			for _, l := range labels {
				if v == l {
					per[l][i][a] = l
				} else {
					per[l][i][a] = "other"
				}
			}
		}
	}
	if kind == KindMultiLabel {
		overall = nil
		for _, l := range labels {
			overall = append(overall, per[l]...)
		}
	}
	r.Overall = groupFigures(overall, r.Annotators)
	for _, l := range labels {
		f := groupFigures(per[l], r.Annotators)
		pos, tot := 0, 0
		for _, u := range per[l] {
			for _, v := range u {
				tot++
				if v == l || v == "present" {
					pos++
				}
			}
		}
		f.Prevalence = Stat(math.NaN())
		if tot > 0 {
			f.Prevalence = Stat(float64(pos) / float64(tot))
			if p := float64(f.Prevalence); p < 0.05 || p > 0.95 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("label %s has a prevalence of %.1f%% (outside 5–95%%): kappa and alpha are unstable for it", l, 100*p))
			}
		}
		r.Labels[l] = f
	}
	for i, a := range r.Annotators {
		for _, b := range r.Annotators[i+1:] {
			p := Pair{A: a, B: b, Labels: map[string]Stat{}}
			var va, vb []string
			for _, u := range overall {
				x, ok1 := u[a]
				y, ok2 := u[b]
				if ok1 && ok2 {
					va, vb = append(va, x), append(vb, y)
				}
			}
			k, po, n := CohenKappa(va, vb)
			p.Kappa, p.Observed, p.Items = Stat(k), Stat(po), n
			if kind == KindMultiLabel {
				p.Items = n / max(1, len(labels))
			}
			for _, l := range labels {
				var la, lb []string
				for _, u := range per[l] {
					x, ok1 := u[a]
					y, ok2 := u[b]
					if ok1 && ok2 {
						la, lb = append(la, x), append(lb, y)
					}
				}
				k, _, _ := CohenKappa(la, lb)
				p.Labels[l] = Stat(k)
			}
			if po >= 0.9 && !math.IsNaN(k) && k < 0.6 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s and %s agree on %.0f%% of items but kappa is %.2f: with skewed labels, high agreement can give a low kappa (the kappa paradox); read the per-label figures", a, b, 100*po, k))
			}
			r.Pairs = append(r.Pairs, p)
		}
	}
	if r.Pairs == nil {
		r.Pairs = []Pair{}
	}
	return r
}

// groupFigures computes Fleiss' kappa and Krippendorff's alpha over units
// (annotator → value).
func groupFigures(units []map[string]string, annotators []string) Figures {
	var f Figures
	rows := make([][]string, 0, len(units))
	for _, u := range units {
		var row []string
		for _, a := range annotators {
			if v, ok := u[a]; ok {
				row = append(row, v)
			}
		}
		rows = append(rows, row)
	}
	k, used, excl := FleissKappa(rows)
	f.FleissKappa, f.FleissItems, f.FleissExcluded = Stat(k), used, excl
	a, _ := KrippendorffAlpha(rows)
	f.Alpha = Stat(a)
	f.Prevalence = Stat(math.NaN())
	return f
}

func spanAgreement(r *Report, labels []string, items []Item) {
	// The modal number of answers: the unitizing coders.
	freq := map[int]int{}
	for _, it := range items {
		freq[len(it.Answers)]++
	}
	m, best := 0, 0
	for c, f := range freq {
		if f > best || (f == best && c > m) {
			m, best = c, f
		}
	}
	coders := make([][]Unit, m)
	L := 0
	for _, it := range items {
		if len(it.Answers) != m {
			continue
		}
		var ann []string
		for a := range it.Answers {
			ann = append(ann, a)
		}
		sort.Strings(ann)
		for slot, a := range ann {
			for _, u := range it.Answers[a].Spans {
				coders[slot] = append(coders[slot], Unit{Start: u.Start + L, End: u.End + L, Label: u.Label})
			}
		}
		L += it.Length
	}
	count := map[string]int{}
	total := 0
	for _, it := range items {
		for _, ans := range it.Answers {
			for _, u := range ans.Spans {
				count[u.Label]++
				total++
			}
		}
	}
	wsum, wtot := 0.0, 0
	for _, l := range labels {
		ua := Stat(UnitizingAlpha(coders, l, L))
		f := Figures{FleissKappa: Stat(math.NaN()), Alpha: Stat(math.NaN()), UnitizingAlpha: &ua, Spans: count[l], Prevalence: Stat(math.NaN())}
		if total > 0 {
			f.Prevalence = Stat(float64(count[l]) / float64(total))
		}
		if !math.IsNaN(float64(ua)) {
			wsum += float64(ua) * float64(count[l])
			wtot += count[l]
		}
		if count[l] > 0 && count[l] < 5 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("label %s has only %d spans: its figures are unreliable", l, count[l]))
		}
		r.Labels[l] = f
	}
	ov := Stat(math.NaN())
	if wtot > 0 {
		ov = Stat(wsum / float64(wtot))
	}
	r.Overall = Figures{FleissKappa: Stat(math.NaN()), Alpha: Stat(math.NaN()), UnitizingAlpha: &ov, Spans: total, Prevalence: Stat(math.NaN())}
	for i, a := range r.Annotators {
		for _, b := range r.Annotators[i+1:] {
			var sa, sb [][]Unit
			for _, it := range items {
				x, ok1 := it.Answers[a]
				y, ok2 := it.Answers[b]
				if ok1 && ok2 {
					sa, sb = append(sa, x.Spans), append(sb, y.Spans)
				}
			}
			all := SpanAgreement(sa, sb, "")
			p := Pair{A: a, B: b, Items: len(sa), Kappa: Stat(math.NaN()), Observed: Stat(math.NaN()), Span: &all, SpanBy: map[string]SpanF1{}}
			for _, l := range labels {
				p.SpanBy[l] = SpanAgreement(sa, sb, l)
			}
			r.Pairs = append(r.Pairs, p)
		}
	}
	if r.Pairs == nil {
		r.Pairs = []Pair{}
	}
}
