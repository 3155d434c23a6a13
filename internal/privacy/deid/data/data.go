// Package data holds the word lists and the default model of the French
// clinical de-identifier (package deid), embedded in the binary so that it
// runs in a locked-down network. Provenance and licences of every list are
// in LICENSES.md beside this file and in docs/deid.md.
package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"strconv"
	"strings"
	"sync"
)

//go:embed *.txt communes.tsv mots.txt.gz model.bin.gz
var files embed.FS

// FirstName is a given name with its usual sex: 'F', 'M' or 'X' (either).
type FirstName struct {
	Name string
	Sex  byte
}

// Commune is a French municipality with its postal codes.
type Commune struct {
	Name        string
	PostalCodes []string
	Population  int
	Department  string
}

// Lists are the parsed word lists.
type Lists struct {
	FirstNames []FirstName // faker locales and the curated French list, deduplicated
	LastNames  []string    // faker locales and the curated French list, deduplicated
	OtherNames []string    // person names of many cultures, first or last (cspell)
	Communes   []Commune
	Hospitals  []string // named care facilities
	Streets    []string // street names without the street type
	Eponyms    []string
	Triggers   []string // nouns introducing an eponym
	Medical    []string // capitalised clinical words and acronyms
	Drugs      []string
}

var (
	once  sync.Once
	lists *Lists
)

// Load parses the embedded lists once and returns them; callers must not
// modify the result.
func Load() *Lists {
	once.Do(func() { lists = parse() })
	return lists
}

// Model returns the gzip-compressed default sequence-labelling model.
func Model() []byte {
	b, err := files.ReadFile("model.bin.gz")
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return b
}

func lines(name string, fn func(fields []string)) {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, "\t"))
	}
}

func parse() *Lists {
	l := &Lists{}
	seen := map[string]bool{}
	addFirst := func(f []string) {
		if seen[f[0]] {
			return
		}
		seen[f[0]] = true
		sex := byte('X')
		if len(f) > 1 && f[1] != "" {
			sex = f[1][0]
		}
		l.FirstNames = append(l.FirstNames, FirstName{Name: f[0], Sex: sex})
	}
	lines("prenoms-fr.txt", addFirst)
	lines("prenoms.txt", addFirst)
	seen = map[string]bool{}
	addLast := func(f []string) {
		if !seen[f[0]] {
			seen[f[0]] = true
			l.LastNames = append(l.LastNames, f[0])
		}
	}
	lines("noms-fr.txt", addLast)
	lines("noms.txt", addLast)
	lines("noms-divers.txt", func(f []string) { l.OtherNames = append(l.OtherNames, f[0]) })
	lines("communes.tsv", func(f []string) {
		if len(f) < 4 {
			return
		}
		pop, _ := strconv.Atoi(f[2])
		l.Communes = append(l.Communes, Commune{Name: f[0], PostalCodes: strings.Split(f[1], ","), Population: pop, Department: f[3]})
	})
	one := func(name string, dst *[]string) { lines(name, func(f []string) { *dst = append(*dst, f[0]) }) }
	one("hopitaux.txt", &l.Hospitals)
	one("voies.txt", &l.Streets)
	one("eponymes.txt", &l.Eponyms)
	one("declencheurs.txt", &l.Triggers)
	one("medical.txt", &l.Medical)
	one("medicaments.txt", &l.Drugs)
	return l
}

// EachWord calls fn for every French common word (inflected forms, lower
// case) of the embedded word list.
func EachWord(fn func(w string)) {
	b, err := files.ReadFile("mots.txt.gz")
	if err != nil {
		panic(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := sc.Text(); w != "" {
			fn(w)
		}
	}
}
