package recipe

import (
	"context"

	"github.com/hygie-health/hygie/internal/dataset"
)

// Transform applies recipe text to a version and stores the result as a new
// version of dataset out (the source's dataset when empty), with lineage to
// src and the recipe recorded. Nothing is created if any step fails.
func Transform(ctx context.Context, ds *dataset.Service, src dataset.Version, text []byte, out string) (dataset.Version, bool, error) {
	r, err := Parse(text)
	if err != nil {
		return dataset.Version{}, false, err
	}
	f, err := ds.ReadFrame(ctx, src)
	if err != nil {
		return dataset.Version{}, false, err
	}
	res, err := r.Apply(f)
	if err != nil {
		return dataset.Version{}, false, err
	}
	if out == "" {
		out = src.Dataset
	}
	return ds.Create(ctx, dataset.NewVersion{Project: src.Project, Dataset: out, Frame: res, Level: src.Level, Parent: &src, Recipe: string(text)})
}
