package risk

import (
	"context"
	"slices"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Columns returns the quasi-identifiers and sensitive attributes of a
// version by their roles (quasi_identifier, sensitive), in schema order.
func Columns(v dataset.Version) (qis, sensitive []string) {
	for _, c := range v.Columns {
		switch c.Role {
		case dataset.RoleQuasiIdentifier:
			qis = append(qis, c.Name)
		case dataset.RoleSensitive:
			sensitive = append(sensitive, c.Name)
		}
	}
	return qis, sensitive
}

// OfVersion assesses the re-identification risk of a dataset version. The
// quasi-identifiers are o.QuasiIdentifiers, or else the columns with role
// quasi_identifier; the sensitive attributes o.Sensitive, or else (when nil)
// the columns with role sensitive. The content is read with ds.ReadFrame, so
// its access rules apply: dataset.read, and the steward's permission (with
// an audited read) for an identifying version. The report holds counts and
// rates only, never a value.
func OfVersion(ctx context.Context, ds *dataset.Service, v dataset.Version, o Options) (*Report, error) {
	if v.Level == dataset.Identifying && auth.Require(ctx, v.Project, auth.PermIdentifyingData) != nil {
		// Refused before anything else, and the attempt audited by the read.
		if _, err := ds.ReadFrame(ctx, v); err != nil {
			return nil, err
		}
		return nil, errs.Forbiddenf("%s holds identifying data", v.Ref())
	}
	qis, sens := Columns(v)
	if len(o.QuasiIdentifiers) == 0 {
		o.QuasiIdentifiers = qis
	}
	if o.Sensitive == nil {
		o.Sensitive = sens
	}
	if len(o.QuasiIdentifiers) == 0 {
		return nil, errs.Invalidf("%s has no column with role quasi_identifier: name the quasi-identifiers to assess", v.Ref())
	}
	cols := append(slices.Clone(o.QuasiIdentifiers), o.Sensitive...)
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c] {
			return nil, errs.Invalidf("column %q is named twice (a quasi-identifier cannot also be sensitive)", c)
		}
		seen[c] = true
		if !slices.ContainsFunc(v.Columns, func(x dataset.Column) bool { return x.Name == c }) {
			return nil, errs.Invalidf("%s has no column %q", v.Ref(), c)
		}
	}
	f, err := ds.ReadFrame(ctx, v)
	if err != nil {
		return nil, err
	}
	header, rows, err := FrameRows(f, cols)
	if err != nil {
		return nil, err
	}
	return Assess(header, rows, o)
}

// FrameRows formats the given columns of a frame as text rows (missing
// values as "", dates YYYY-MM-DD), the table Assess works on.
func FrameRows(f *dataset.Frame, cols []string) ([]string, [][]string, error) {
	vecs := make([]*dataset.Vec, len(cols))
	for j, c := range cols {
		vec, err := f.Col(c)
		if err != nil {
			return nil, nil, err
		}
		vecs[j] = vec
	}
	n := f.Rows()
	rows := make([][]string, n)
	for i := range n {
		row := make([]string, len(vecs))
		for j, vec := range vecs {
			row[j] = vec.String(i)
		}
		rows[i] = row
	}
	return slices.Clone(cols), rows, nil
}
