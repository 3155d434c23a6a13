package synth

import (
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// Recipe describes how the default model is trained; it is the single
// source of truth for `go generate` and `hygie deid train`.
type Recipe struct {
	Seed   uint64 // corpus seed
	Docs   int    // synthetic training documents
	Epochs int
	DropW  float64 // see deid.TrainOptions
	DropG  float64
}

// DefaultRecipe is the recipe of the embedded model.
var DefaultRecipe = Recipe{Seed: 20260101, Docs: 12000, Epochs: 8, DropW: 0.25, DropG: 0.4}

// TrainModel trains a model on the recipe's synthetic corpus plus extra
// annotated documents (for instance a hospital's own gold set).
func TrainModel(r Recipe, extra []deid.Document, progress func(epoch, errors, segments int)) (*deid.Model, error) {
	docs := Generate(Options{Seed: r.Seed, Split: Train, N: r.Docs})
	docs = append(docs, extra...)
	return deid.Train(docs, deid.TrainOptions{Epochs: r.Epochs, Seed: r.Seed, DropW: r.DropW, DropG: r.DropG, Progress: progress})
}
