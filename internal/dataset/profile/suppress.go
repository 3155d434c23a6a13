package profile

// Small-cell suppression. The reasoning is that of a reader who sees the
// report, knows the published total of a partition (a column's count) and
// this algorithm, and bounds each suppressed cell from the others: a small
// cell lies in [0, k−1], a complementary cell in [k, smallest shown count].

// cellState says how a cell of a partition is written.
type cellState uint8

const (
	shown      cellState = iota
	small                // fewer than k records: primary suppression
	complement           // suppressed so that small cells cannot be derived
)

// protect decides which cells of a partition (histogram bins, timeline
// buckets, boolean counts) are suppressed. A cell below k is suppressed;
// then, while the total minus the shown cells would prove that small cells
// hold at least one record, the smallest shown cell is suppressed too. A
// cell's lower bound for the reader is s − (H − (k−1)), where s is the
// suppressed total and H the sum of the suppressed cells' upper bounds.
func protect(counts []int64, k int64) []cellState {
	st := make([]cellState, len(counts))
	var nSmall, sum int64
	for i, c := range counts {
		if c < k {
			st[i] = small
			nSmall++
			sum += c
		}
	}
	if nSmall == 0 {
		return st
	}
	var nComp int64
	for {
		smallest := -1
		for i, c := range counts {
			if st[i] == shown && (smallest < 0 || c < counts[smallest]) {
				smallest = i
			}
		}
		capComp := sum // a complementary cell holds at most the suppressed total
		if smallest >= 0 {
			capComp = min(capComp, counts[smallest])
		}
		upper := nSmall*(k-1) + nComp*capComp
		if sum-(upper-(k-1)) <= 0 || smallest < 0 {
			return st
		}
		st[smallest] = complement
		nComp++
		sum += counts[smallest]
	}
}

// cells writes counts as cells according to their states.
func cells(counts []int64, st []cellState, k int) []Cell {
	out := make([]Cell, len(counts))
	for i, c := range counts {
		switch st[i] {
		case shown:
			out[i] = Cell{Count: ptr(c)}
		case small:
			out[i] = Cell{Suppressed: true, Label: smallLabel(k)}
		default:
			out[i] = Cell{Suppressed: true, Label: largeLabel(k)}
		}
	}
	return out
}

// listable returns how many of the most frequent values may be listed.
// freq holds the counts of the values that k or more records share, in
// decreasing order; rareN and rareSum are the number of the other (rare)
// values and their total count. Since count and distinct are published, the
// reader knows how many values are left out and their total; the most
// frequent values are dropped from the end of the list until no rare value's
// count is pinned: its bounds, [1, k−1] met with the total of the values
// left out, must not meet in one number.
func listable(freq []int64, rareN, rareSum, k int64, topN int) int {
	n := min(topN, len(freq))
	if rareN == 0 {
		return n
	}
	var hidden int64 // total of the frequent values left out
	for _, c := range freq[n:] {
		hidden += c
	}
	for ; n >= 0; n-- {
		if n < len(freq) && n < min(topN, len(freq)) {
			hidden += freq[n]
		}
		nHidden := int64(len(freq) - n)
		s := rareSum + hidden
		capHidden := s
		if n > 0 {
			capHidden = freq[n-1]
		}
		sumUpper := rareN*(k-1) + nHidden*capHidden
		sumLower := rareN + nHidden*k
		lower := max(1, s-(sumUpper-(k-1)))
		upper := min(k-1, s-(sumLower-1))
		// With k = 2 a rare value is known to be held once: nothing to pin.
		if lower < upper || k == 2 || n == 0 {
			return n
		}
	}
	return 0
}
