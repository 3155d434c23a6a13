package dp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/hygie-health/hygie/internal/dataset"
)

// contributionDomain separates the keys that choose a patient's kept rows
// from any other use of SHA-256 in hygie.
const contributionDomain = "hygie/dp/contribution/v1"

// boundContributions returns the rows kept when each patient may contribute
// at most m rows, in their original order. Rows without a patient id are
// dropped (their owner is unknown, so their contribution cannot be bounded).
//
// A patient with more than m rows keeps the m rows whose key,
// SHA-256(domain ‖ patient id ‖ row content), is smallest. The choice is
// reproducible (the same version gives the same rows, whatever the query)
// and depends on that patient's own rows only: adding or removing another
// patient never changes which rows of this one are kept, which is what
// bounds a patient's influence to m rows — a choice by position in the file
// would not.
func boundContributions(f *dataset.Frame, patientCol, m int) []int {
	pv := f.Vecs[patientCol]
	n := f.Rows()
	byPatient := make(map[string][]int)
	for i := range n {
		if pv.IsNull(i) {
			continue
		}
		id := pv.String(i)
		byPatient[id] = append(byPatient[id], i)
	}
	kept := make([]int, 0, n)
	type keyed struct {
		key [32]byte
		row int
	}
	var buf bytes.Buffer
	for id, rows := range byPatient {
		if len(rows) <= m {
			kept = append(kept, rows...)
			continue
		}
		ks := make([]keyed, len(rows))
		for j, r := range rows {
			buf.Reset()
			writeField(&buf, contributionDomain)
			writeField(&buf, id)
			for _, v := range f.Vecs {
				if v.IsNull(r) {
					buf.WriteByte(0)
					continue
				}
				buf.WriteByte(1)
				writeField(&buf, v.String(r))
			}
			ks[j] = keyed{sha256.Sum256(buf.Bytes()), r}
		}
		slices.SortFunc(ks, func(a, b keyed) int {
			if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
				return c
			}
			return a.row - b.row // identical rows: either is the same contribution
		})
		for _, k := range ks[:m] {
			kept = append(kept, k.row)
		}
	}
	slices.Sort(kept)
	return kept
}

// writeField writes a length-prefixed string, so no two rows encode alike.
func writeField(buf *bytes.Buffer, s string) {
	var l [binary.MaxVarintLen64]byte
	buf.Write(l[:binary.PutUvarint(l[:], uint64(len(s)))])
	buf.WriteString(s)
}
