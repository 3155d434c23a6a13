// Command trainmodel trains the default de-identification model on the
// synthetic corpus (synth.DefaultRecipe) and writes it where package data
// embeds it. Run it with `go generate ./internal/privacy/deid`; it is
// deterministic: the same recipe gives the same model, byte for byte.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/hygie-health/hygie/internal/privacy/deid/synth"
)

func main() {
	out := flag.String("out", "data/model.bin.gz", "model file to write")
	flag.Parse()
	m, err := synth.TrainModel(synth.DefaultRecipe, nil, func(epoch, errs, segs int) {
		fmt.Fprintf(os.Stderr, "epoch %d: %d of %d segments mislabelled\n", epoch, errs, segs)
	})
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := m.WriteTo(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d features\n", *out, m.Features())
}
