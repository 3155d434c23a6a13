package profile

import (
	"context"

	"github.com/hygie-health/hygie/internal/dataset"
)

// OfVersion profiles a stored version with the default options. Reading it
// follows the dataset's access rules (identifying versions: stewards only,
// audited).
func OfVersion(ctx context.Context, ds *dataset.Service, v dataset.Version) (*Report, error) {
	f, err := ds.ReadFrame(ctx, v)
	if err != nil {
		return nil, err
	}
	return Of(f, Options{})
}
