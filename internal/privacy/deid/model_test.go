package deid

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// A toy task: the word after "chez" is a town, the word after "ami" is a
// first name; the words are invented, so only the context can teach it.
func toyDocs(n int, seed uint64) []Document {
	r := rand.New(rand.NewPCG(seed, 1))
	syll := []string{"ka", "lo", "mi", "ra", "tu", "ze", "po", "vi", "ne", "so"}
	word := func() string {
		w := ""
		for i := 0; i < 2+r.IntN(2); i++ {
			w += syll[r.IntN(len(syll))]
		}
		return string(w[0]-32) + w[1:]
	}
	var docs []Document
	for i := 0; i < n; i++ {
		var doc Document
		add := func(s string, l Label) {
			start := utf8.RuneCountInString(doc.Text)
			doc.Text += s
			if l != None {
				doc.Entities = append(doc.Entities, Entity{Start: start, End: start + utf8.RuneCountInString(s), Label: l, Text: s})
			}
		}
		for k := 0; k < 3; k++ {
			switch r.IntN(3) {
			case 0:
				add("Il dort chez ", None)
				add(word(), Ville)
				add(". ", None)
			case 1:
				add("Son ami ", None)
				add(word(), Prenom)
				add(" arrive. ", None)
			default:
				add(word()+" est un mot. ", None)
			}
		}
		docs = append(docs, doc)
	}
	return docs
}

func TestLabellerLearnsToyTask(t *testing.T) {
	m, err := Train(toyDocs(300, 1), TrainOptions{Epochs: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Round trip through the binary format.
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := ReadModel(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Features() != m.Features() || m.Features() == 0 {
		t.Fatalf("features: %d after reading, %d before", m2.Features(), m.Features())
	}
	d := newWithLexicon(m2, defaultLexicon())
	var ev Evaluator
	for _, doc := range toyDocs(100, 2) {
		ev.Add(doc.Entities, d.Detect(doc.Text), utf8.RuneCountInString(doc.Text))
	}
	r := ev.Report()
	if r.Micro.F1 < 0.95 {
		t.Fatalf("toy task F1 = %.3f (%+v)", r.Micro.F1, r.Labels)
	}
}

func TestReadModelRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("HYGDEID2"), []byte("HYGDEID1"), []byte("not a model at all"), append([]byte("HYGDEID2"), 0x1f, 0x8b, 0, 0)} {
		if _, err := ReadModel(bytes.NewReader(b)); err == nil {
			t.Errorf("ReadModel(%q) accepted garbage", b)
		}
	}
}

func TestDefaultModelLoads(t *testing.T) {
	m, err := DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	if m.Features() < 1000 {
		t.Fatalf("default model has %d features", m.Features())
	}
}

func TestViterbiRespectsBIO(t *testing.T) {
	var trans [numTags][numTags]float32
	em := [][numTags]float32{{tagIPrenom: 10}, {tagINom: 10}}
	tags := make([]int, 2)
	back := make([][numTags]int8, 2)
	viterbi(&trans, em, tags, back)
	prev := tagO
	for _, tg := range tags {
		if !allowed(prev, tg) {
			t.Fatalf("illegal sequence %v", tags)
		}
		prev = tg
	}
}
