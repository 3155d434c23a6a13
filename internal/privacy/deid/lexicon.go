package deid

import (
	"sync"

	"github.com/hygie-health/hygie/internal/privacy/deid/data"
)

// Gazetteer categories, one bit each.
const (
	gzFirst      uint32 = 1 << iota // given name
	gzFirstF                        // given name, usually female
	gzFirstM                        // given name, usually male
	gzLast                          // family name
	gzName                          // person name of any kind (large multicultural list)
	gzCommune                       // French municipality
	gzCommuneBig                    // municipality of 20,000 inhabitants or more
	gzHosp                          // named care facility
	gzEponym                        // eponym (disease, sign, score)
	gzDrug                          // drug name
	gzMed                           // clinical header word or acronym
	gzTitle                         // Dr, Pr, Mme, M ...
	gzParticle                      // de, du, le, van ...
	gzMonth                         // month name
	gzWeekday                       // day name
	gzStreet                        // street type (rue, avenue ...)
	gzFacility                      // facility keyword (hôpital, CHU ...)
	gzTrigger                       // noun introducing an eponym
	gzIPP                           // word introducing a patient identifier
	gzNDA                           // word introducing a stay number
	gzBirth                         // word introducing a birth date
	gzSecu                          // word introducing a social security number
	gzRelative                      // family relation (fille, époux ...)
	gzWord                          // French common word
	gzMulti                         // part of a multi-token entry
	numGz               = 25
	// gzPending marks a capitalised word whose common-word bit (gzWord)
	// is not looked up yet: doc.gaz looks it up when the labeller needs
	// it (the list is large and most words never need it).
	gzPending uint32 = 1 << numGz
)

var (
	builtinTitles = []string{"dr", "dr.", "docteur", "docteure", "pr", "professeur", "professeure", "mme", "mmes",
		"madame", "m", "mr", "monsieur", "mlle", "mademoiselle", "me", "maître", "interne", "ide", "sage-femme"}
	builtinParticles = []string{"de", "du", "des", "d'", "la", "le", "les", "l'", "van", "von", "der", "den", "ben", "bin",
		"el", "al", "da", "dos", "di", "del", "della", "y", "sur", "sous", "en", "lès", "les", "aux", "au", "et", "saint", "sainte", "st", "ste"}
	builtinMonths = []string{"janvier", "janv", "février", "fevrier", "févr", "fév", "fev", "mars", "avril", "avr",
		"mai", "juin", "juillet", "juil", "août", "aout", "septembre", "sept", "sep", "octobre", "oct",
		"novembre", "nov", "décembre", "decembre", "déc", "dec"}
	builtinWeekdays = []string{"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"}
	builtinStreets  = []string{"rue", "avenue", "av", "ave", "bd", "boulevard", "bld", "bvd", "chemin", "ch", "chem",
		"place", "pl", "allée", "allee", "allées", "impasse", "imp", "route", "rte", "quai", "cours", "square", "sq",
		"passage", "lotissement", "lot", "résidence", "residence", "rés", "hameau", "lieu-dit", "voie", "sentier",
		"cité", "villa", "esplanade", "promenade", "faubourg", "fbg", "montée", "traverse", "parvis", "rond-point",
		"clos", "domaine", "chaussée", "ruelle", "venelle", "quartier", "carrefour"}
	builtinFacilities = []string{"hôpital", "hopital", "hôpitaux", "chu", "chru", "chr", "ch", "chi", "chic", "chs", "chg",
		"clinique", "polyclinique", "centre", "institut", "groupe", "gh", "ghu", "hospices", "hôtel-dieu", "ehpad",
		"maternité", "fondation", "ssr", "usld", "cmp", "cmpp", "ssiad", "epsm", "ehpa", "esms", "smr"}
	builtinIPP      = []string{"ipp", "nip", "identifiant", "id"}
	builtinNDA      = []string{"nda", "séjour", "sejour", "venue", "dossier", "hospitalisation", "épisode", "episode", "admission"}
	builtinBirth    = []string{"né", "née", "ne", "nee", "ddn", "naissance", "naiss", "né(e)"}
	builtinSecu     = []string{"nir", "ss", "sécu", "secu", "sécurité", "securite", "ins", "immatriculation", "matricule", "assuré", "insee"}
	builtinRelative = []string{"fille", "fils", "époux", "épouse", "epoux", "epouse", "mari", "femme", "mère", "père",
		"frère", "sœur", "soeur", "conjoint", "conjointe", "compagne", "compagnon", "neveu", "nièce", "petite-fille",
		"petit-fils", "belle-fille", "gendre", "tuteur", "tutrice", "curateur", "voisine", "voisin", "ami", "amie", "aidant", "aidante"}
)

// lexicon is the compiled gazetteer: a trie over folded tokens, keyed by
// hash, so that a lookup costs one map access per token.
type lexicon struct {
	trie     *edgeTable // mix(node, token hash) → child node and its categories
	edges    *table     // the same while building (nil after)
	words    *fpSet     // folded hashes of French common words (consulted for capitalised tokens only)
	small    *table     // single-token entries of the keyword sets, for lower-case tokens
	bits     []uint32   // categories of the entries ending at a node
	hasKids  []bool
	zips     map[string]bool // postal codes in use
	triggers map[uint64]bool // folded eponym triggers (also gzTrigger)
}

var (
	lexOnce sync.Once
	lexDef  *lexicon
)

// defaultLexicon compiles the embedded lists once.
func defaultLexicon() *lexicon {
	lexOnce.Do(func() { lexDef = buildLexicon(data.Load(), nil) })
	return lexDef
}

// buildLexicon compiles the lists; names in exclude (folded) are left out of
// the person and place categories (used to measure out-of-vocabulary
// performance).
func buildLexicon(l *data.Lists, exclude map[string]bool) *lexicon {
	lx := &lexicon{edges: newTable(100000), small: newTable(2000), bits: []uint32{0}, hasKids: []bool{false}, zips: map[string]bool{}}
	var toks []token
	rootHash := []uint64{0} // per node: the token hash of a first-level node
	add := func(entry string, b uint32) {
		if exclude != nil && b&(gzFirst|gzLast|gzName|gzCommune|gzHosp) != 0 && exclude[fold(entry)] {
			return
		}
		toks = tokenize(entry, toks)
		node := int32(0)
		n := 0
		for _, t := range toks {
			if t.kind == tkPunct && entry[t.start] == '.' {
				continue
			}
			h := hashFold(entry[t.start:t.end])
			k := mix(uint64(node), h)
			child, ok := lx.edges.get(k)
			if !ok {
				child = int32(len(lx.bits))
				lx.bits = append(lx.bits, 0)
				lx.hasKids = append(lx.hasKids, false)
				rootHash = append(rootHash, 0)
				if node == 0 {
					rootHash[child] = h
				}
				lx.edges.put(k, child)
				lx.hasKids[node] = true
			}
			node = child
			n++
		}
		if n == 0 {
			return
		}
		lx.bits[node] |= b
		if n > 1 {
			lx.bits[node] |= gzMulti
		}
		if n == 1 && b&smallCats != 0 {
			v, _ := lx.small.get(toks[0].hashKey(entry))
			lx.small.put(toks[0].hashKey(entry), v|int32(b&smallCats))
		}
	}
	for _, f := range l.FirstNames {
		b := gzFirst
		switch f.Sex {
		case 'F':
			b |= gzFirstF
		case 'M':
			b |= gzFirstM
		}
		add(f.Name, b)
	}
	for _, s := range l.LastNames {
		add(s, gzLast)
	}
	for _, s := range l.OtherNames {
		add(s, gzName)
	}
	for _, c := range l.Communes {
		b := gzCommune
		if c.Population >= 20000 {
			b |= gzCommuneBig
		}
		add(c.Name, b)
		for _, z := range c.PostalCodes {
			lx.zips[z] = true
		}
	}
	for _, s := range l.Hospitals {
		add(s, gzHosp)
	}
	for _, s := range l.Eponyms {
		add(s, gzEponym)
	}
	lx.triggers = map[uint64]bool{}
	for _, s := range l.Triggers {
		add(s, gzTrigger)
		lx.triggers[hashFold(s)] = true
	}
	for _, s := range l.Medical {
		add(s, gzMed)
	}
	for _, s := range l.Drugs {
		add(s, gzDrug)
	}
	// Sized to the list: the set's memory is what the lookups pay for.
	var words []uint64
	data.EachWord(func(w string) { words = append(words, hashFold(w)) })
	lx.words = newFPSet(len(words))
	for _, h := range words {
		lx.words.add(h)
	}
	for _, set := range []struct {
		words []string
		b     uint32
	}{{builtinTitles, gzTitle}, {builtinParticles, gzParticle}, {builtinMonths, gzMonth}, {builtinWeekdays, gzWeekday},
		{builtinStreets, gzStreet}, {builtinFacilities, gzFacility}, {builtinIPP, gzIPP}, {builtinNDA, gzNDA},
		{builtinBirth, gzBirth}, {builtinSecu, gzSecu}, {builtinRelative, gzRelative}} {
		for _, w := range set.words {
			add(w, set.b)
		}
	}
	// Compile the trie: each node has one incoming edge, which holds the
	// node's categories.
	lx.trie = newEdgeTable(lx.edges.len())
	lx.edges.each(func(k uint64, child int32) {
		info := lx.bits[child]
		if lx.hasKids[child] {
			info |= edgeKids
		}
		// First-level nodes also hold the common-word bit, so that a
		// capitalised word of the gazetteer needs no second lookup.
		if rootHash[child] != 0 && lx.words.has(rootHash[child]) {
			info |= gzWord
		}
		lx.trie.put(k, child, info) // keys are already fixed
	})
	lx.edges, lx.bits, lx.hasKids = nil, nil, nil
	return lx
}

// smallCats are the categories looked up for lower-case tokens: keywords,
// not names (a lower-case word is a name only after a title, where the
// labeller sees it anyway).
const smallCats = gzTitle | gzParticle | gzMonth | gzWeekday | gzStreet | gzFacility | gzTrigger | gzIPP | gzNDA | gzBirth | gzSecu | gzRelative | gzMed | gzDrug | gzEponym

func (t token) hashKey(s string) uint64 { return hashFold(s[t.start:t.end]) }

// annotate sets the gazetteer categories of every word token (longest
// match for multi-token entries), from the token hashes of tokenizeHashed.
func (lx *lexicon) annotate(s string, toks []token, hashes []uint64, bits []uint32) {
	clear(bits[:len(toks)])
	for i := range toks {
		if toks[i].kind != tkWord {
			continue
		}
		upper := toks[i].flags&tfUpper != 0
		if !upper {
			v, _ := lx.small.get(hashes[i])
			bits[i] |= uint32(v)
			// Multi-token entries may start with a particle ("de La Tour")
			// or a facility keyword ("hôpital Necker-Enfants malades").
			if uint32(v)&(gzParticle|gzFacility) == 0 {
				continue
			}
		}
		node, info, ok := lx.trie.get(mix(0, hashes[i]))
		if !ok {
			if upper {
				bits[i] |= gzPending // common word? looked up when needed
			}
			continue
		}
		if !upper {
			info &^= gzWord // only capitalised words are looked up
		}
		bits[i] |= info &^ (gzMulti | edgeKids)
		if info&edgeKids == 0 {
			continue
		}
		// Longest multi-token match starting here.
		best, bestEnd := uint32(0), i
		for j := i + 1; j < len(toks) && j < i+8; j++ {
			if toks[j].flags&tfNewline != 0 {
				break
			}
			if toks[j].kind == tkPunct && s[toks[j].start] == '.' {
				continue
			}
			child, info, ok := lx.trie.get(mix(uint64(node), hashes[j]))
			if !ok {
				break
			}
			node = child
			if b := info &^ edgeKids; b != 0 {
				best, bestEnd = b, j
			}
			if info&edgeKids == 0 {
				break
			}
		}
		if bestEnd > i {
			for k := i; k <= bestEnd; k++ {
				bits[k] |= best
			}
		}
	}
}

// isTrigger reports whether the folded word hashes to an eponym trigger.
func (lx *lexicon) isTrigger(h uint64) bool { return lx.triggers[h] }

// knownZip reports whether z is a postal code in use.
func (lx *lexicon) knownZip(z string) bool { return lx.zips[z] }
