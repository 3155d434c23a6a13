package profile

import (
	"strconv"
	"time"

	"github.com/hygie-health/hygie/internal/dataset"
)

const microsPerDay = 86_400_000_000

// temporalColumn profiles a date or datetime column: its range and its
// timeline (UTC calendar buckets).
func temporalColumn(v *dataset.Vec, t treatment, o Options, p *ColumnProfile, sc *scratch) {
	keys := sc.keyBuf(v.Len())
	for i, x := range v.I {
		if v.IsNull(i) {
			p.Missing++
			continue
		}
		keys = append(keys, intKey(x))
	}
	p.Count = len(keys)
	sc.radixSort(keys, nil)
	p.Distinct = ptr(countRuns(keys))
	if t == countsOnly || len(keys) < o.MinCount {
		return
	}
	isDatetime := v.Type == dataset.TypeDatetime
	day := func(x int64) int64 { return x }
	format := func(x int64) string { return dataset.DateFromDays(x).Format(time.DateOnly) }
	if isDatetime {
		day = func(x int64) int64 { return floorDiv(x, microsPerDay) }
		format = func(x int64) string { return time.UnixMicro(x).UTC().Format(time.RFC3339Nano) }
	}
	lo, hi := keyInt(keys[0]), keyInt(keys[len(keys)-1])
	cal := chooseCalendar(day(lo), day(hi))

	// One walk: counts per bucket.
	var starts []int64 // bucket start days, plus the end of the last one
	var counts []int64
	start := cal.start(day(lo))
	next := cal.next(start)
	starts = append(starts, start)
	counts = append(counts, 0)
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		d := day(keyInt(keys[i]))
		for d >= next {
			starts = append(starts, next)
			counts = append(counts, 0)
			next = cal.next(next)
		}
		counts[len(counts)-1] += int64(j - i)
		i = j
	}
	starts = append(starts, next)

	tp := &Temporal{Granularity: cal.unit, Coarsened: t == coarse}
	if cal.unit == "year" {
		tp.Step = cal.step
	}
	date := func(d int64) *string { return ptr(dataset.DateFromDays(d).Format(time.DateOnly)) }
	k := int64(o.MinCount)
	var final []finalBin
	if t == coarse {
		final = mergeEnds(counts, k)
		if len(final) > 0 {
			if !final[0].openLo {
				tp.Min = date(starts[0])
			}
			if !final[len(final)-1].openHi {
				tp.Max = date(starts[len(starts)-1])
			}
		}
	} else {
		tp.Min, tp.Max = ptr(format(lo)), ptr(format(hi))
		for i, c := range counts {
			final = append(final, finalBin{first: i, last: i, count: c})
		}
	}
	fc := make([]int64, len(final))
	for i, f := range final {
		fc[i] = f.count
	}
	tp.Timeline = []Bucket{}
	for i, c := range cells(fc, protect(fc, k), o.MinCount) {
		f := final[i]
		b := Bucket{Cell: c, Start: date(starts[f.first]), End: date(starts[f.last+1])}
		b.Period = cal.label(starts[f.first])
		switch {
		case f.openLo:
			b.Start = nil
			b.Period = "<" + cal.label(starts[f.last+1])
		case f.openHi:
			b.End = nil
			b.Period = "≥" + b.Period
		}
		tp.Timeline = append(tp.Timeline, b)
	}
	p.Temporal = tp
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// calendar is a timeline's bucketing: days, months or years (step years
// per bucket), in days since 1970-01-01.
type calendar struct {
	unit string
	step int
}

// chooseCalendar picks days for a span under 92 days, months up to 120
// months, else years in steps of 1, 2, 5, 10… so that there are at most 120
// buckets.
func chooseCalendar(lo, hi int64) calendar {
	if hi-lo < 92 {
		return calendar{"day", 1}
	}
	a, b := dataset.DateFromDays(lo), dataset.DateFromDays(hi)
	if months := (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month()) + 1; months <= 120 {
		return calendar{"month", 1}
	}
	for _, step := range yearSteps() {
		if floorDivInt(b.Year(), step)-floorDivInt(a.Year(), step)+1 <= 120 {
			return calendar{"year", step}
		}
	}
	return calendar{"year", 1_000_000_000}
}

func yearSteps() []int {
	var out []int
	for p := 1; p <= 100_000_000; p *= 10 {
		out = append(out, p, 2*p, 5*p)
	}
	return out
}

func floorDivInt(a, b int) int { return int(floorDiv(int64(a), int64(b))) }

func (c calendar) start(d int64) int64 {
	t := dataset.DateFromDays(d)
	switch c.unit {
	case "day":
		return d
	case "month":
		return dataset.Days(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC))
	}
	y := floorDivInt(t.Year(), c.step) * c.step
	return dataset.Days(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC))
}

func (c calendar) next(start int64) int64 {
	t := dataset.DateFromDays(start)
	switch c.unit {
	case "day":
		return start + 1
	case "month":
		return dataset.Days(time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC))
	}
	return dataset.Days(time.Date(t.Year()+c.step, 1, 1, 0, 0, 0, 0, time.UTC))
}

// label names a bucket by its start: 2024-03-05, 2024-03, 2024 or
// 2020-2029 (a 10-year step).
func (c calendar) label(start int64) string {
	t := dataset.DateFromDays(start)
	switch c.unit {
	case "day":
		return t.Format(time.DateOnly)
	case "month":
		return t.Format("2006-01")
	}
	if c.step == 1 {
		return strconv.Itoa(t.Year())
	}
	return strconv.Itoa(t.Year()) + "-" + strconv.Itoa(t.Year()+c.step-1)
}
