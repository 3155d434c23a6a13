// Package risk assesses the re-identification risk of a table for a set of
// quasi-identifiers: equivalence classes, prosecutor / journalist / marketer
// risk as El Emam and ARX define them, sample and population uniqueness
// (Pitman, Zayatz, Dankar's rule), and the three criteria of the Article 29
// Working Party's opinion 05/2014 that the CNIL applies (singling out,
// linkability, inference), each with a verdict in plain words.
//
// It works on an in-memory table of strings and never returns or logs a
// value of the table: only counts, rates and column names.
package risk

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
)

// Options says what to assess.
type Options struct {
	QuasiIdentifiers []string
	Sensitive        []string
	// SamplingFraction is the share of the population the table is a sample
	// of, in (0, 1]; 1 (the default) means the table is the population.
	SamplingFraction float64
	// Threshold is the per-record risk above which a record is "at risk"
	// (default 0.2, i.e. classes smaller than 5).
	Threshold float64
	// SmallClass is the class size below which records count as singled
	// out (default 5).
	SmallClass int
	// MaxCombination bounds the size of the quasi-identifier combinations
	// examined for linkability (default: all, up to 12 quasi-identifiers).
	MaxCombination int
	// L and T are the levels against which the inference verdict judges
	// l-diversity and t-closeness (defaults 2 and 0.2).
	L float64
	T float64
}

// Report is the assessment; every rate is a fraction in [0, 1].
type Report struct {
	Rows             int      `json:"rows"`
	QuasiIdentifiers []string `json:"quasi_identifiers"`
	SamplingFraction float64  `json:"sampling_fraction"`
	Classes          int      `json:"classes"`
	// K is the size of the smallest class (the table is k-anonymous for it).
	K             int          `json:"k"`
	AverageClass  float64      `json:"average_class_size"`
	SizeHistogram []SizeCount  `json:"class_sizes"`
	SmallClasses  SmallClasses `json:"small_classes"`
	Prosecutor    AttackerRisk `json:"prosecutor"`
	Journalist    AttackerRisk `json:"journalist"`
	Marketer      AttackerRisk `json:"marketer"`
	Uniqueness    Uniqueness   `json:"uniqueness"`
	SinglingOut   Criterion    `json:"singling_out"`
	Linkability   Linkability  `json:"linkability"`
	Inference     Inference    `json:"inference"`
}

// SizeCount is one bar of the class size distribution.
type SizeCount struct {
	Size    int `json:"size"`
	Classes int `json:"classes"`
	Records int `json:"records"`
}

// SmallClasses counts the records in classes smaller than Threshold.
type SmallClasses struct {
	Threshold int     `json:"threshold"`
	Classes   int     `json:"classes"`
	Records   int     `json:"records"`
	Fraction  float64 `json:"fraction"`
}

// AttackerRisk is the re-identification risk under one attacker model.
type AttackerRisk struct {
	Highest       float64 `json:"highest"`
	Average       float64 `json:"average"`
	RecordsAtRisk float64 `json:"records_at_risk"` // share of records whose risk exceeds the threshold
	Threshold     float64 `json:"threshold"`
}

// Uniqueness holds sample and estimated population uniqueness.
type Uniqueness struct {
	SampleUniques int     `json:"sample_uniques"`
	Sample        float64 `json:"sample"`
	// Estimated share of the population that is unique on the
	// quasi-identifiers; -1 when the model does not converge.
	Pitman float64 `json:"pitman"`
	Zayatz float64 `json:"zayatz"`
	Dankar float64 `json:"dankar"`
	// DankarModel is the model Dankar et al.'s rule chose.
	DankarModel    string  `json:"dankar_model"`
	PopulationSize float64 `json:"population_size"`
}

// Criterion is a verdict on one CNIL / Article 29 criterion.
type Criterion struct {
	Pass    bool   `json:"pass"`
	Verdict string `json:"verdict"`
}

// Linkability reports how many combinations of quasi-identifiers single out
// records.
type Linkability struct {
	Criterion
	Combinations       int           `json:"combinations"`
	UniqueCombinations int           `json:"combinations_with_uniques"`
	Riskiest           []Combination `json:"riskiest"`
}

// Combination is one set of quasi-identifiers and the records it singles out.
type Combination struct {
	Columns     []string `json:"columns"`
	Uniques     int      `json:"unique_records"`
	Distinction float64  `json:"distinction"` // distinct combinations / rows
}

// Inference reports l-diversity and t-closeness of each sensitive attribute.
type Inference struct {
	Criterion
	Attributes []SensitiveRisk `json:"attributes"`
}

// SensitiveRisk describes one sensitive attribute over the classes.
type SensitiveRisk struct {
	Column string `json:"column"`
	// DistinctL is the smallest number of distinct values in a class;
	// EntropyL the smallest 2^entropy; T the largest earth mover's distance
	// (equal ground distance) between a class and the whole table.
	DistinctL float64 `json:"distinct_l"`
	EntropyL  float64 `json:"entropy_l"`
	T         float64 `json:"t"`
	// Homogeneous counts records in classes where everyone shares one value.
	HomogeneousRecords int    `json:"homogeneous_records"`
	Verdict            string `json:"verdict"`
}

// Assess computes the report for the table (header and rows).
func Assess(header []string, rows [][]string, o Options) (*Report, error) {
	if len(o.QuasiIdentifiers) == 0 {
		return nil, errs.Invalidf("risk: want at least one quasi-identifier")
	}
	if o.SamplingFraction == 0 {
		o.SamplingFraction = 1
	}
	if !(o.SamplingFraction > 0 && o.SamplingFraction <= 1) {
		return nil, errs.Invalidf("risk: the sampling fraction must be in (0, 1]")
	}
	if o.Threshold == 0 {
		o.Threshold = 0.2
	}
	if o.SmallClass == 0 {
		o.SmallClass = 5
	}
	if o.L == 0 {
		o.L = 2
	}
	if o.T == 0 {
		o.T = 0.2
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	var qi []int
	for _, q := range o.QuasiIdentifiers {
		i, ok := col[q]
		if !ok {
			return nil, errs.Invalidf("risk: no column %q", q)
		}
		qi = append(qi, i)
	}
	var sens []int
	for _, s := range o.Sensitive {
		i, ok := col[s]
		if !ok {
			return nil, errs.Invalidf("risk: no column %q", s)
		}
		sens = append(sens, i)
	}
	n := len(rows)
	r := &Report{Rows: n, QuasiIdentifiers: o.QuasiIdentifiers, SamplingFraction: o.SamplingFraction}
	if n == 0 {
		return r, nil
	}
	codes := encode(rows, qi)
	classOf, sizes := group(codes, allColumns(len(qi)), n)
	r.Classes = len(sizes)
	r.AverageClass = float64(n) / float64(len(sizes))
	hist := map[int]int{}
	r.K = math.MaxInt
	for _, s := range sizes {
		hist[s]++
		r.K = min(r.K, s)
	}
	for s, c := range hist {
		r.SizeHistogram = append(r.SizeHistogram, SizeCount{Size: s, Classes: c, Records: s * c})
	}
	sort.Slice(r.SizeHistogram, func(i, j int) bool { return r.SizeHistogram[i].Size < r.SizeHistogram[j].Size })
	r.SmallClasses.Threshold = o.SmallClass
	for _, s := range sizes {
		if s < o.SmallClass {
			r.SmallClasses.Classes++
			r.SmallClasses.Records += s
		}
	}
	r.SmallClasses.Fraction = float64(r.SmallClasses.Records) / float64(n)

	// Attacker models. Per record, prosecutor risk is 1/f (f its class size
	// in the table); journalist risk is 1/F, F the class size in the
	// population, estimated as f/π for a sampling fraction π; marketer risk
	// is the expected share of records re-identified, (1/n) Σ f/F.
	pf := o.SamplingFraction
	r.Prosecutor = attacker(sizes, n, o.Threshold, func(f int) float64 { return 1 / float64(f) })
	r.Journalist = attacker(sizes, n, o.Threshold, func(f int) float64 { return 1 / math.Max(float64(f), float64(f)/pf) })
	r.Marketer = AttackerRisk{Threshold: o.Threshold}
	r.Marketer.Average = r.Journalist.Average
	r.Marketer.Highest = r.Marketer.Average
	r.Marketer.RecordsAtRisk = r.Journalist.RecordsAtRisk

	// Uniqueness.
	u := &r.Uniqueness
	u.SampleUniques = hist[1]
	u.Sample = float64(hist[1]) / float64(n)
	u.PopulationSize = float64(n) / pf
	est := EstimatePopulationUniques(hist, n, pf)
	u.Pitman, u.Zayatz, u.Dankar, u.DankarModel = est.Pitman, est.Zayatz, est.Dankar, est.Model

	// Singling out.
	uniq := hist[1]
	small := r.SmallClasses.Records - uniq
	if r.SmallClasses.Records == 0 {
		r.SinglingOut = Criterion{Pass: true, Verdict: fmt.Sprintf("No record can be singled out on %s: every record shares its values with at least %d others (smallest class: %d).", list(o.QuasiIdentifiers), o.SmallClass-1, r.K)}
	} else {
		r.SinglingOut = Criterion{Pass: false, Verdict: fmt.Sprintf("%d records (%s) are unique on %s and %d more (%s) share their values with fewer than %d others: each of them can be singled out.",
			uniq, pct(float64(uniq)/float64(n)), list(o.QuasiIdentifiers), small, pct(float64(small)/float64(n)), o.SmallClass-1)}
	}
	r.Linkability = linkability(codes, o, n)
	r.Inference = inference(rows, sens, o, classOf, sizes)
	_ = qi
	return r, nil
}

func attacker(sizes []int, n int, threshold float64, risk func(f int) float64) AttackerRisk {
	a := AttackerRisk{Threshold: threshold}
	sum, at := 0.0, 0
	for _, f := range sizes {
		x := risk(f)
		a.Highest = math.Max(a.Highest, x)
		sum += x * float64(f)
		if x > threshold {
			at += f
		}
	}
	a.Average = sum / float64(n)
	a.RecordsAtRisk = float64(at) / float64(n)
	return a
}

// encode dictionary-encodes the columns: codes[j][row].
func encode(rows [][]string, cols []int) [][]int32 {
	codes := make([][]int32, len(cols))
	for j, c := range cols {
		ids := map[string]int32{}
		codes[j] = make([]int32, len(rows))
		for i, row := range rows {
			id, ok := ids[row[c]]
			if !ok {
				id = int32(len(ids))
				ids[row[c]] = id
			}
			codes[j][i] = id
		}
	}
	return codes
}

func allColumns(d int) []int {
	c := make([]int, d)
	for i := range c {
		c[i] = i
	}
	return c
}

// group returns each row's class and the class sizes for the given columns.
func group(codes [][]int32, cols []int, n int) ([]int32, []int) {
	classOf := make([]int32, n)
	index := map[string]int32{}
	key := make([]byte, 4*len(cols))
	var sizes []int
	for i := 0; i < n; i++ {
		for j, c := range cols {
			v := uint32(codes[c][i])
			key[4*j], key[4*j+1], key[4*j+2], key[4*j+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		c, ok := index[string(key)]
		if !ok {
			c = int32(len(sizes))
			index[string(key)] = c
			sizes = append(sizes, 0)
		}
		sizes[c]++
		classOf[i] = c
	}
	return classOf, sizes
}

func linkability(codes [][]int32, o Options, n int) Linkability {
	d := len(codes)
	maxSize := o.MaxCombination
	if maxSize <= 0 || maxSize > d {
		maxSize = d
	}
	if d > 12 && maxSize > 3 {
		maxSize = 3 // 2^d combinations would be too many
	}
	var l Linkability
	var combos []Combination
	for mask := 1; mask < 1<<d; mask++ {
		var cols []int
		for j := 0; j < d; j++ {
			if mask&(1<<j) != 0 {
				cols = append(cols, j)
			}
		}
		if len(cols) > maxSize {
			continue
		}
		l.Combinations++
		_, sizes := group(codes, cols, n)
		uniq := 0
		for _, s := range sizes {
			if s == 1 {
				uniq++
			}
		}
		if uniq > 0 {
			l.UniqueCombinations++
			names := make([]string, len(cols))
			for i, c := range cols {
				names[i] = o.QuasiIdentifiers[c]
			}
			combos = append(combos, Combination{Columns: names, Uniques: uniq, Distinction: float64(len(sizes)) / float64(n)})
		}
	}
	sort.SliceStable(combos, func(i, j int) bool {
		if len(combos[i].Columns) != len(combos[j].Columns) {
			return len(combos[i].Columns) < len(combos[j].Columns)
		}
		return combos[i].Uniques > combos[j].Uniques
	})
	if len(combos) > 10 {
		combos = combos[:10]
	}
	l.Riskiest = combos
	if l.Riskiest == nil {
		l.Riskiest = []Combination{}
	}
	if l.UniqueCombinations == 0 {
		l.Criterion = Criterion{Pass: true, Verdict: fmt.Sprintf("None of the %d combinations of quasi-identifiers singles out a record, so records cannot be linked one-to-one with another source holding these attributes.", l.Combinations)}
	} else {
		c := combos[0]
		l.Criterion = Criterion{Pass: false, Verdict: fmt.Sprintf("%d of the %d combinations of quasi-identifiers single out at least one record; the smallest, %s, makes %d records unique. Anyone holding these attributes elsewhere can link those records.",
			l.UniqueCombinations, l.Combinations, list(c.Columns), c.Uniques)}
	}
	return l
}

func inference(rows [][]string, sens []int, o Options, classOf []int32, sizes []int) Inference {
	inf := Inference{Attributes: []SensitiveRisk{}}
	if len(sens) == 0 {
		inf.Criterion = Criterion{Pass: true, Verdict: "No sensitive attribute was named, so inference was not assessed."}
		return inf
	}
	n := len(rows)
	inf.Pass = true
	var bad []string
	for si, c := range sens {
		codes := encode(rows, []int{c})[0]
		global := map[int32]float64{}
		for _, v := range codes {
			global[v]++
		}
		perClass := make([]map[int32]int, len(sizes))
		for i, v := range codes {
			m := perClass[classOf[i]]
			if m == nil {
				m = map[int32]int{}
				perClass[classOf[i]] = m
			}
			m[v]++
		}
		sr := SensitiveRisk{Column: o.Sensitive[si], DistinctL: math.Inf(1), EntropyL: math.Inf(1)}
		for k, m := range perClass {
			size := float64(sizes[k])
			sr.DistinctL = math.Min(sr.DistinctL, float64(len(m)))
			h, emd := 0.0, 1.0
			for v, cnt := range m {
				p := float64(cnt) / size
				h -= p * math.Log2(p)
				q := global[v] / float64(n)
				emd += math.Abs(p-q) - q
			}
			sr.EntropyL = math.Min(sr.EntropyL, math.Pow(2, h))
			sr.T = math.Max(sr.T, emd/2)
			if len(m) == 1 {
				sr.HomogeneousRecords += sizes[k]
			}
		}
		switch {
		case sr.HomogeneousRecords > 0:
			sr.Verdict = fmt.Sprintf("%q can be inferred for %d records (%s): in their classes everyone has the same value.", sr.Column, sr.HomogeneousRecords, pct(float64(sr.HomogeneousRecords)/float64(n)))
		case sr.DistinctL < o.L || sr.T > o.T:
			sr.Verdict = fmt.Sprintf("%q is poorly protected: some class has only %g distinct values, or a distribution %.3g away from the whole table's (more than t = %g), which reveals it with high probability.", sr.Column, sr.DistinctL, sr.T, o.T)
		default:
			sr.Verdict = fmt.Sprintf("%q cannot be inferred with certainty: every class has at least %g distinct values and its distribution stays within %.3g of the whole table's.", sr.Column, sr.DistinctL, sr.T)
		}
		if sr.HomogeneousRecords > 0 || sr.DistinctL < o.L || sr.T > o.T {
			inf.Pass = false
			bad = append(bad, sr.Column)
		}
		inf.Attributes = append(inf.Attributes, sr)
	}
	if inf.Pass {
		inf.Verdict = fmt.Sprintf("No sensitive attribute can be inferred from the quasi-identifiers (%g-diversity and %g-closeness hold in every class).", o.L, o.T)
	} else {
		inf.Verdict = fmt.Sprintf("%s can be inferred for some records from their quasi-identifiers; see each attribute.", list(bad))
	}
	return inf
}

func pct(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }

func list(xs []string) string { return strings.Join(xs, ", ") }
