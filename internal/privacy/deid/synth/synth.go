// Package synth generates synthetic, annotated French clinical documents
// to train and evaluate the de-identifier (package deid). Nothing in it is
// real: people are drawn from name lists, numbers are random (social
// security numbers get a valid key), places are real communes.
//
// Generation is reproducible: the same Options give the same documents.
// Two splits never share a template family, a person name, a commune, a
// street or a facility name: Train feeds the default model, HeldOut
// measures it on documents it has never seen (see docs/deid.md).
package synth

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/deid/data"
)

// Split selects template families and name pools.
type Split int

// Splits.
const (
	Train Split = iota
	HeldOut
)

// Options of a corpus.
type Options struct {
	Seed  uint64
	Split Split
	N     int // number of documents
}

// Generate returns opt.N documents, ids "synth-<split>-<n>".
func Generate(opt Options) []deid.Document {
	out := make([]deid.Document, 0, opt.N)
	g := NewGenerator(opt.Split, opt.Seed)
	for i := 0; i < opt.N; i++ {
		out = append(out, g.Next())
	}
	return out
}

// Generator produces documents one at a time.
type Generator struct {
	split Split
	r     *rand.Rand
	p     *pools
	n     int
	fams  []family
}

// NewGenerator returns a generator for the split, seeded.
func NewGenerator(split Split, seed uint64) *Generator {
	g := &Generator{split: split, r: rand.New(rand.NewPCG(seed, uint64(split)+0x5eed)), p: getPools(split)}
	if split == HeldOut {
		g.fams = heldOutFamilies
	} else {
		g.fams = trainFamilies
	}
	return g
}

// Next returns the next document.
func (g *Generator) Next() deid.Document {
	b := &builder{split: g.split, r: g.r, p: g.p}
	b.newPeople()
	f := g.fams[g.r.IntN(len(g.fams))]
	f.fn(b)
	name := "train"
	if g.split == HeldOut {
		name = "heldout"
	}
	doc := deid.Document{ID: fmt.Sprintf("synth-%s-%05d", name, g.n), Text: b.sb.String(), Entities: b.ents}
	if doc.Entities == nil {
		doc.Entities = []deid.Entity{}
	}
	g.n++
	return doc
}

type family struct {
	name string
	fn   func(b *builder)
}

// HeldOutNames returns the person and place names reserved to the held-out
// split: build a de-identifier without them (deid.NewWithout) to measure
// performance on names absent from the gazetteer.
func HeldOutNames() []string {
	p := getPools(HeldOut)
	var out []string
	for _, f := range p.first {
		out = append(out, f.Name)
	}
	out = append(out, p.last...)
	for _, c := range p.communes {
		out = append(out, c.Name)
	}
	return out
}

// pools are the names and places of one split.
type pools struct {
	first     []data.FirstName
	firstF    []data.FirstName
	firstM    []data.FirstName
	last      []string
	communes  []data.Commune
	weights   []float64 // cumulative, by population (dampened)
	hospitals []string
	streets   []string
	drugs     []string
	eponyms   []string
	words     []string // capitalised common words that are not names
}

var (
	poolOnce [2]sync.Once
	poolSet  [2]*pools
)

// heldOut decides, from the folded name alone, which split owns a name:
// one in five goes to the held-out split.
func heldOut(name string) bool {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(name)))
	return h.Sum32()%5 == 0
}

func getPools(split Split) *pools {
	poolOnce[split].Do(func() {
		l := data.Load()
		p := &pools{}
		want := split == HeldOut
		// Common names are over-represented so that documents look real;
		// the curated lists come first in l.FirstNames and l.LastNames.
		for _, f := range l.FirstNames {
			if heldOut(f.Name) != want || strings.ContainsAny(f.Name, " ") {
				continue
			}
			p.first = append(p.first, f)
			switch f.Sex {
			case 'F':
				p.firstF = append(p.firstF, f)
			case 'M':
				p.firstM = append(p.firstM, f)
			default:
				p.firstF = append(p.firstF, f)
				p.firstM = append(p.firstM, f)
			}
		}
		for _, s := range l.LastNames {
			if heldOut(s) == want {
				p.last = append(p.last, s)
			}
		}
		total := 0.0
		for _, c := range l.Communes {
			if heldOut(c.Name) != want {
				continue
			}
			p.communes = append(p.communes, c)
			w := 1.0 + float64(c.Population)/2000
			if w > 60 {
				w = 60 + (w-60)/50
			}
			total += w
			p.weights = append(p.weights, total)
		}
		for _, s := range l.Hospitals {
			if heldOut(s) == want {
				p.hospitals = append(p.hospitals, s)
			}
		}
		for _, s := range append(append([]string{}, l.Streets...), curatedStreets...) {
			if heldOut(s) == want {
				p.streets = append(p.streets, s)
			}
		}
		p.drugs = l.Drugs
		p.eponyms = eponymPhrases
		names := map[string]bool{}
		for _, f := range l.FirstNames {
			names[strings.ToLower(f.Name)] = true
		}
		for _, n := range l.LastNames {
			names[strings.ToLower(n)] = true
		}
		for _, n := range l.OtherNames {
			names[strings.ToLower(n)] = true
		}
		for _, c := range l.Communes {
			names[strings.ToLower(c.Name)] = true
		}
		i := 0
		data.EachWord(func(w string) {
			i++
			// One word in 40, and only from this split's half of the list.
			if i%40 != 0 || (i/40)%2 != int(split) || names[w] || len(w) < 3 || strings.ContainsAny(w, "-") {
				return
			}
			p.words = append(p.words, capitalize(w))
		})
		poolSet[split] = p
	})
	return poolSet[split]
}

// curatedStreets are street names (after the street type), written by the
// hygie authors.
var curatedStreets = []string{
	"de la République", "Victor Hugo", "Jean Jaurès", "du Général de Gaulle", "des Lilas", "des Tilleuls",
	"Pasteur", "de la Gare", "du Moulin", "de l'Église", "de la Paix", "des Écoles", "du Stade", "de la Mairie",
	"Gambetta", "Garibaldi", "Bellecour", "des Vignes", "Émile Zola", "de Verdun", "du 8 Mai 1945",
	"du 11 Novembre", "Jean Moulin", "Foch", "Carnot", "de la Liberté", "des Acacias", "des Peupliers",
	"du Château", "de la Fontaine", "des Prés", "du Port", "Saint-Jacques", "Voltaire", "Marcel Pagnol",
	"Pierre Brossolette", "Lamartine", "Anatole France", "Aristide Briand", "Clemenceau", "Paul Bert",
	"de Lattre de Tassigny", "du Maréchal Leclerc", "des Belges", "Thiers", "de Bretagne", "de Provence",
	"des Cerisiers", "des Roses", "du Bois", "de la Forêt", "des Sports", "du Lavoir", "des Jardins",
	"Louis Pasteur", "Jules Ferry", "Albert Camus", "Charles Péguy", "Condorcet", "Montesquieu",
	"Sadi Carnot", "de Strasbourg", "de Lyon", "de Paris", "de Bordeaux", "Nationale", "Principale",
	"des Mimosas", "des Hirondelles", "du Colombier", "de la Croix Rouge", "de Metz", "Colbert", "Danton",
	"Mirabeau", "Racine", "Molière", "Rabelais", "des Marronniers", "de la Poste", "du Commerce",
	"Jean-Baptiste Clément", "Maurice Ravel", "Claude Debussy", "Hector Berlioz", "Frédéric Mistral",
}

// eponymPhrases are non-identifying eponyms, as written in notes.
var eponymPhrases = []string{
	"maladie de Parkinson", "maladie d'Alzheimer", "maladie de Crohn", "maladie de Basedow", "thyroïdite de Hashimoto",
	"syndrome de Guillain-Barré", "classification de Child-Pugh B", "score de Glasgow à 15", "signe de Babinski",
	"syndrome de Cushing", "maladie d'Addison", "lymphome de Hodgkin", "tétralogie de Fallot", "manœuvre de Valsalva",
	"fracture de Pouteau-Colles", "échelle de Rankin modifiée à 2", "signe de Lasègue", "signe de Murphy",
	"maladie de Horton", "syndrome de Raynaud", "syndrome de Gougerot-Sjögren", "maladie de Paget", "œsophage de Barrett",
	"maladie de Dupuytren", "encéphalopathie de Gayet-Wernicke", "maladie de Creutzfeldt-Jakob", "chorée de Huntington",
	"syndrome de Marfan", "maladie de Wilson", "syndrome de Gilbert", "sarcome de Kaposi", "lymphome de Burkitt",
	"sarcome d'Ewing", "diverticule de Meckel", "maladie de Whipple", "syndrome de Mallory-Weiss", "score d'Apgar à 9",
	"classification de Killip 1", "indice de Breslow", "score de Gleason 7", "stade III de Leriche et Fontaine",
	"stade II de Fontaine", "position de Trendelenburg", "signe de Tinel", "manœuvre de Phalen", "signe de Lhermitte",
	"respiration de Kussmaul", "maladie de Waldenström", "maladie de Kahler", "maladie de Vaquez", "nodosités d'Heberden",
	"maladie de Ménière", "paralysie faciale a frigore (Bell)", "maladie de Lyme", "maladie de Still",
	"maladie de Takayasu", "syndrome de Budd-Chiari", "maladie de Gaucher", "maladie de Fabry", "myopathie de Duchenne",
	"dystrophie de Steinert", "maladie de Charcot-Marie-Tooth", "maladie de Willebrand", "maladie de Rendu-Osler",
	"syndrome de Lynch", "diverticule de Zenker", "score de Blatchford", "score de Wells", "score de Caprini",
	"score CHA2DS2-VASc à 3", "classification NYHA II", "score de Karnofsky à 80 %", "échelle de Braden",
	"score de Mallampati 2", "score de Cormack 1", "classification de Bosniak", "classification d'Ann Arbor",
	"classification de Binet A", "classification de Salter-Harris", "fracture de Garden III", "fracture de Neer",
	"fracture de Weber B", "lésion de Hill-Sachs", "maladie de Kienböck", "maladie d'Osgood-Schlatter",
	"kyste de Baker", "névrome de Morton", "syndrome de Tietze", "syndrome de Pancoast-Tobias",
	"syndrome de Claude Bernard-Horner", "syndrome de Wallenberg", "syndrome de Korsakoff", "syndrome d'Asperger",
	"syndrome de Gilles de la Tourette", "syndrome de West", "malformation d'Arnold-Chiari", "canal de Guyon",
	"maladie de Verneuil", "gangrène de Fournier", "purpura de Schönlein-Henoch", "maladie de Berger",
	"syndrome de Goodpasture", "syndrome d'Alport", "formule de Cockcroft", "cul-de-sac de Douglas",
	"ligament de Treitz", "sphincter d'Oddi", "triangle de Calot", "polygone de Willis", "intervention de Hartmann",
	"cure de hernie selon Lichtenstein", "fundoplicature de Nissen", "incision de Pfannenstiel", "sonde de Foley",
	"drain de Redon", "technique de Seldinger", "score de Martin à 3", "test de Romberg", "signe de Kernig",
	"manœuvre de Mac Burney", "point de McBurney", "ulcère de Marjolin", "maladie de Biermer",
	"syndrome de Zollinger-Ellison", "maladie de Hirschsprung", "syndrome de Prader-Willi", "syndrome de Turner",
	"syndrome de Klinefelter", "maladie de Behçet", "granulomatose de Wegener", "maladie de Kawasaki",
	"syndrome de Churg-Strauss", "syndrome de Lyell", "syndrome de Stevens-Johnson", "œdème de Quincke",
	"angor de Prinzmetal", "bloc de Mobitz II", "syndrome de Wolff-Parkinson-White", "syndrome de Brugada",
	"critères de Duke", "score de Ranson", "score de Balthazar", "classification de Forrest IIa",
	"score de Rockall", "score de Lown", "grade de Clark", "score de Norton", "test de Lachman",
	"signe de Trousseau", "signe de Chvostek", "signe de Homans", "signe de Rovsing",
}

// builder accumulates text and entities, in code points.
type builder struct {
	split  Split
	r      *rand.Rand
	p      *pools
	sb     strings.Builder
	cp     int
	ents   []deid.Entity
	people map[string]*person
	upper  bool // family names upper case in this document
}

func (b *builder) t(s string) {
	b.sb.WriteString(s)
	b.cp += utf8.RuneCountInString(s)
}

func (b *builder) e(l deid.Label, s string) {
	n := utf8.RuneCountInString(s)
	b.ents = append(b.ents, deid.Entity{Start: b.cp, End: b.cp + n, Label: l, Text: s})
	b.sb.WriteString(s)
	b.cp += n
}

func (b *builder) chance(p float64) bool { return b.r.Float64() < p }

func pick[T any](b *builder, xs []T) T { return xs[b.r.IntN(len(xs))] }

// one returns one of the strings at random.
func (b *builder) one(xs ...string) string { return xs[b.r.IntN(len(xs))] }

// person is a fictitious person of the document.
type person struct {
	first, last string
	sex         byte
	upper       bool
}

func (b *builder) newPerson() *person {
	sex := byte('F')
	if b.chance(0.5) {
		sex = 'M'
	}
	var f data.FirstName
	// Favour the first (curated, common) entries a little.
	list := b.p.firstF
	if sex == 'M' {
		list = b.p.firstM
	}
	if b.chance(0.35) {
		f = list[b.r.IntN(min(len(list), 150))]
	} else {
		f = pick(b, list)
	}
	last := b.p.last[b.r.IntN(len(b.p.last))]
	if b.chance(0.4) {
		last = b.p.last[b.r.IntN(min(len(b.p.last), 100))]
	}
	if b.chance(0.04) {
		// Double-barrelled family name.
		last = last + "-" + pick(b, b.p.last)
	}
	p := &person{first: f.Name, last: last, sex: sex, upper: b.chance(0.45)}
	if b.split == Train && b.chance(inventedShare) {
		b.inventPerson(p)
	}
	return p
}

// inventedShare is the share of training people with invented names.
const inventedShare = 0.15

func (b *builder) newPeople() {
	b.people = map[string]*person{}
	b.upper = b.chance(0.5)
}

func (b *builder) get(role string) *person {
	p, ok := b.people[role]
	if !ok {
		p = b.newPerson()
		b.people[role] = p
	}
	return p
}

func upperName(s string) string { return strings.ToUpper(s) }

// lastForm renders a family name: upper case or as written.
func (b *builder) lastForm(p *person, upper bool) string {
	if upper {
		return upperName(p.last)
	}
	return p.last
}

// Name renderings. Each writes entities.

func (b *builder) prenomNom(p *person, upper bool) {
	b.e(deid.Prenom, p.first)
	b.t(" ")
	b.e(deid.Nom, b.lastForm(p, upper))
}

func (b *builder) nomPrenom(p *person, upper bool) {
	b.e(deid.Nom, b.lastForm(p, upper))
	b.t(" ")
	b.e(deid.Prenom, p.first)
}

func (b *builder) nom(p *person, upper bool) { b.e(deid.Nom, b.lastForm(p, upper)) }

// civ returns a civility for the person's sex (sometimes the other one, as
// in real typing errors).
func (b *builder) civ(p *person) string {
	fem := p.sex == 'F'
	if b.chance(0.05) {
		fem = !fem
	}
	if fem {
		return b.one("Mme", "Mme", "Mme", "Madame", "Mme.", "Mlle")
	}
	return b.one("M.", "M.", "M.", "Monsieur", "Mr")
}

// titled writes "Mme Prénom Nom", "M. NOM", "Madame NOM Prénom"...
func (b *builder) titled(p *person) {
	b.t(b.civ(p) + " ")
	switch b.r.IntN(6) {
	case 0, 1:
		b.prenomNom(p, p.upper)
	case 2:
		b.nom(p, p.upper)
	case 3:
		b.nomPrenom(p, true)
	case 4:
		b.prenomNom(p, true)
	default:
		b.nom(p, true)
	}
}

func (b *builder) drTitle() string {
	return b.one("Dr", "Dr", "Dr", "Dr.", "Docteur", "Pr", "Professeur", "Dr")
}

// dr writes "Dr Prénom Nom", "Dr NOM", "Pr Nom"...
func (b *builder) dr(p *person) {
	b.t(b.drTitle() + " ")
	switch b.r.IntN(5) {
	case 0, 1:
		b.prenomNom(p, p.upper)
	case 2:
		b.nom(p, p.upper)
	case 3:
		b.prenomNom(p, !p.upper)
	default:
		b.nom(p, !p.upper)
	}
}

// Values.

var monthNames = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
var monthAbbr = []string{"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."}

type date struct{ d, m, y int }

func (b *builder) randDate(y0, y1 int) date {
	m := 1 + b.r.IntN(12)
	days := []int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	return date{1 + b.r.IntN(days), m, y0 + b.r.IntN(y1-y0+1)}
}

// fmtDate renders a date in one of the usual forms.
func (b *builder) fmtDate(dt date, numericOnly bool) string {
	k := b.r.IntN(12)
	if numericOnly {
		k = b.r.IntN(6)
	}
	switch k {
	case 0, 1:
		return fmt.Sprintf("%02d/%02d/%04d", dt.d, dt.m, dt.y)
	case 2:
		return fmt.Sprintf("%02d.%02d.%02d", dt.d, dt.m, dt.y%100)
	case 3:
		return fmt.Sprintf("%02d-%02d-%04d", dt.d, dt.m, dt.y)
	case 4:
		return fmt.Sprintf("%d/%d/%04d", dt.d, dt.m, dt.y)
	case 5:
		return fmt.Sprintf("%02d/%02d/%02d", dt.d, dt.m, dt.y%100)
	case 6, 7:
		return fmt.Sprintf("%d %s %d", dt.d, monthNames[dt.m-1], dt.y)
	case 8:
		d := fmt.Sprint(dt.d)
		if dt.d == 1 {
			d = "1er"
		}
		return fmt.Sprintf("%s %s %d", d, monthNames[dt.m-1], dt.y)
	case 9:
		return fmt.Sprintf("%02d %s %d", dt.d, monthNames[dt.m-1], dt.y)
	case 10:
		return fmt.Sprintf("%d %s %d", dt.d, monthAbbr[dt.m-1], dt.y)
	default:
		return fmt.Sprintf("%02d.%02d.%04d", dt.d, dt.m, dt.y)
	}
}

func (b *builder) date() { b.e(deid.Date, b.fmtDate(b.randDate(2015, 2025), false)) }

// shortDate writes a date without year ("3 mars", "le 12/03").
func (b *builder) shortDate() {
	dt := b.randDate(2020, 2025)
	if b.chance(0.5) {
		d := fmt.Sprint(dt.d)
		if dt.d == 1 && b.chance(0.7) {
			d = "1er"
		}
		b.e(deid.Date, d+" "+monthNames[dt.m-1])
	} else {
		b.e(deid.Date, fmt.Sprintf("%02d/%02d", dt.d, dt.m))
	}
}

func (b *builder) ddn() { b.e(deid.DateNaissance, b.fmtDate(b.randDate(1925, 2020), false)) }

func digits(b *builder, n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteByte(byte('0' + b.r.IntN(10)))
	}
	return sb.String()
}

// tel writes a French phone number in one of its spellings.
func (b *builder) tel() {
	first := []string{"1", "2", "3", "4", "5", "6", "7", "9"}[b.r.IntN(8)]
	d := first + digits(b, 8)
	pairs := []string{"0" + d[0:1], d[1:3], d[3:5], d[5:7], d[7:9]}
	var s string
	switch b.r.IntN(9) {
	case 0, 1:
		s = strings.Join(pairs, " ")
	case 2:
		s = strings.Join(pairs, ".")
	case 3:
		s = strings.Join(pairs, "-")
	case 4:
		s = "0" + d
	case 5:
		s = "+33 " + d[0:1] + " " + strings.Join(pairs[1:], " ")
	case 6:
		s = "+33" + d
	case 7:
		s = "0033 " + d[0:1] + " " + strings.Join(pairs[1:], " ")
	default:
		s = "+33 (0)" + d[0:1] + " " + strings.Join(pairs[1:], " ")
	}
	b.e(deid.Tel, s)
}

// secu writes a NIR with a valid key, spaced or not.
func (b *builder) secu(p *person) {
	sex := 1
	if p.sex == 'F' {
		sex = 2
	}
	yy := b.r.IntN(100)
	mm := 1 + b.r.IntN(12)
	dept := fmt.Sprintf("%02d", 1+b.r.IntN(95))
	corsica := ""
	if b.chance(0.06) {
		corsica = b.one("2A", "2B")
		dept = corsica
	} else if b.chance(0.05) {
		dept = "99"
	}
	commune := fmt.Sprintf("%03d", 1+b.r.IntN(990))
	order := fmt.Sprintf("%03d", 1+b.r.IntN(999))
	body := fmt.Sprintf("%d%02d%02d%s%s%s", sex, yy, mm, dept, commune, order)
	num := strings.NewReplacer("2A", "19", "2B", "18").Replace(body)
	var n uint64
	for _, c := range num {
		n = n*10 + uint64(c-'0')
	}
	key := fmt.Sprintf("%02d", 97-n%97)
	var s string
	if b.chance(0.6) {
		s = fmt.Sprintf("%s %s %s %s %s %s %s", body[0:1], body[1:3], body[3:5], body[5:7], body[7:10], body[10:13], key)
	} else {
		s = body + key
	}
	b.e(deid.Secu, s)
}

func (b *builder) ipp() { b.e(deid.IPP, b.one("80", "00", "1", "9", "")+digits(b, 6+b.r.IntN(4))) }
func (b *builder) nda() { b.e(deid.NDA, b.one("24", "23", "25", "")+digits(b, 6+b.r.IntN(4))) }

var mailDomains = []string{"gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr", "wanadoo.fr", "yahoo.fr", "sfr.fr", "outlook.fr", "icloud.com"}

func asciiFold(s string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case 'à', 'â', 'ä', 'á', 'ã':
			r = 'a'
		case 'é', 'è', 'ê', 'ë':
			r = 'e'
		case 'î', 'ï', 'í', 'ı':
			r = 'i'
		case 'ô', 'ö', 'ó', 'ø':
			r = 'o'
		case 'ù', 'û', 'ü', 'ú':
			r = 'u'
		case 'ç':
			r = 'c'
		case 'ñ':
			r = 'n'
		case ' ', '\'':
			continue
		}
		if r < 128 {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// mail writes an e-mail address built on the person's name.
func (b *builder) mail(p *person, pro bool) {
	f, l := asciiFold(p.first), asciiFold(p.last)
	var local string
	switch b.r.IntN(4) {
	case 0:
		local = f + "." + l
	case 1:
		local = f[:1] + "." + l
	case 2:
		local = f + l + fmt.Sprint(b.r.IntN(100))
	default:
		local = l + "." + f
	}
	dom := pick(b, mailDomains)
	if pro {
		c := pick(b, b.p.communes)
		dom = b.one("chu-", "ch-", "hopital-", "clinique-") + asciiFold(strings.ReplaceAll(c.Name, " ", "-")) + ".fr"
	}
	b.e(deid.Mail, local+"@"+dom)
}

func (b *builder) commune() data.Commune {
	x := b.r.Float64() * b.p.weights[len(b.p.weights)-1]
	lo, hi := 0, len(b.p.weights)
	for lo < hi {
		m := (lo + hi) / 2
		if b.p.weights[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return b.p.communes[min(lo, len(b.p.communes)-1)]
}

// street returns a street, without number.
func (b *builder) street() string {
	typ := b.one("rue", "rue", "rue", "avenue", "boulevard", "chemin", "place", "allée", "impasse", "route", "quai", "cours", "square", "Rue", "Avenue", "Bd", "av.")
	var name string
	switch b.r.IntN(5) {
	case 0:
		p := b.newPerson()
		name = p.first + " " + p.last
	case 1:
		name = "de " + b.commune().Name
		if strings.HasPrefix(name, "de Le ") {
			name = "du " + name[6:]
		}
	default:
		name = pick(b, b.p.streets)
	}
	return typ + " " + name
}

func (b *builder) adresse() {
	num := fmt.Sprint(1 + b.r.IntN(180))
	if b.chance(0.2) {
		num += " " + b.one("bis", "ter", "B")
	}
	b.e(deid.Adresse, num+" "+b.street())
}

// zipVille writes "69003 Lyon" (sometimes with Cedex, or the town in upper case).
func (b *builder) zipVille() {
	c := b.commune()
	b.e(deid.Zip, pick(b, c.PostalCodes))
	b.t(" ")
	name := c.Name
	if b.chance(0.15) {
		name = strings.ToUpper(name)
	}
	b.e(deid.Ville, name)
	if b.chance(0.05) {
		b.t(" Cedex")
	}
}

func (b *builder) ville() {
	c := b.commune()
	b.e(deid.Ville, c.Name)
}

// fullAddress writes "12 rue X, 69003 Lyon" with a separator of the style.
func (b *builder) fullAddress(sep string) {
	b.adresse()
	b.t(sep)
	b.zipVille()
}

// hopital writes a named care facility.
func (b *builder) hopital() {
	var s string
	switch b.r.IntN(9) {
	case 0, 1, 2:
		s = pick(b, b.p.hospitals)
	case 3:
		s = b.one("CHU de ", "CHU ", "CHRU de ", "CHR de ") + b.bigTown()
	case 4:
		s = b.one("Centre hospitalier de ", "Centre Hospitalier de ", "CH de ", "CH ", "Centre hospitalier intercommunal de ") + b.commune().Name
	case 5:
		s = b.one("Clinique ", "Polyclinique ", "Clinique ") + b.one("du Parc", "des Cèdres", "Saint-"+pick(b, b.p.firstM).Name, "Sainte-"+pick(b, b.p.firstF).Name, "de la "+b.one("Loire", "Source", "Roseraie", "Sauvegarde"), "des "+b.one("Lilas", "Alpes", "Franciscaines", "Tilleuls"), "de "+b.commune().Name)
	case 6:
		s = "Hôpital " + b.one("Saint-"+pick(b, b.p.firstM).Name, "Sainte-"+pick(b, b.p.firstF).Name, "privé de "+b.commune().Name, "de "+b.commune().Name, "Nord", "Sud", "local de "+b.commune().Name)
	case 7:
		p := b.newPerson()
		s = b.one("Hôpital ", "Centre hospitalier ", "Hôpital ") + p.first + " " + p.last
	default:
		s = b.one("Groupe hospitalier ", "GH ", "Hôpital privé ", "EHPAD ") + b.one("Les Tilleuls", "Sud", "Nord-Ouest", "de "+b.commune().Name, "La Roseraie", "Les Jardins de "+b.commune().Name)
	}
	b.e(deid.Hopital, s)
}

func (b *builder) bigTown() string {
	for i := 0; i < 20; i++ {
		c := b.commune()
		if c.Population > 30000 {
			return c.Name
		}
	}
	return b.commune().Name
}

// Non-identifying content.

var conditions = []string{"hypertension artérielle", "diabète de type 2", "BPCO", "asthme", "insuffisance cardiaque",
	"fibrillation atriale", "cirrhose éthylique", "néoplasie pulmonaire", "AVC ischémique sylvien gauche",
	"pneumopathie communautaire", "insuffisance rénale chronique", "dyslipidémie", "SAOS appareillé", "hypothyroïdie",
	"cardiopathie ischémique", "obésité morbide", "dépression", "épilepsie", "polyarthrite rhumatoïde",
	"lombalgie chronique", "ostéoporose", "adénocarcinome prostatique", "cancer du sein", "anémie ferriprive",
	"embolie pulmonaire", "thrombose veineuse profonde", "HTA", "DT2", "IRC stade 3", "goutte", "glaucome",
	"cholécystectomie", "appendicectomie", "PTH droite", "tabagisme actif à 30 PA", "syndrome dépressif"}

var doses = []string{"75 mg", "1 g", "5 mg", "40 mg", "10 mg", "2,5 mg", "100 µg", "0,25 mg", "1000 mg", "20 mg", "500 mg", "4000 UI", "0,4 mL", "12 UI", "50 mg", "200 mg"}

func (b *builder) drug() {
	b.t(pick(b, b.p.drugs) + " " + pick(b, doses))
}

func (b *builder) drugs(n int, sep string) {
	for i := 0; i < n; i++ {
		if i > 0 {
			b.t(sep)
		}
		b.drug()
	}
}

func (b *builder) atcd(n int) {
	for i := 0; i < n; i++ {
		if i > 0 {
			b.t(", ")
		}
		b.t(pick(b, conditions))
	}
}

func (b *builder) eponym() { b.t(pick(b, b.p.eponyms)) }

func (b *builder) bio() {
	b.t(fmt.Sprintf("Hb %d.%d g/dL, créatinine %d µmol/L, CRP %d mg/L, plaquettes %d G/L", 9+b.r.IntN(8), b.r.IntN(10), 50+b.r.IntN(150), b.r.IntN(200), 100+b.r.IntN(300)))
	if b.chance(0.5) {
		b.t(fmt.Sprintf(", HbA1c %d.%d %%", 5+b.r.IntN(6), b.r.IntN(10)))
	}
	if b.chance(0.3) {
		b.t(fmt.Sprintf(", leucocytes %d/mm3", 3000+b.r.IntN(15000)))
	}
}

func (b *builder) vitals() {
	switch b.r.IntN(3) {
	case 0:
		b.t(fmt.Sprintf("TA %d/%d mmHg, FC %d/min, SpO2 %d %%", 100+b.r.IntN(70), 50+b.r.IntN(50), 50+b.r.IntN(70), 88+b.r.IntN(12)))
	case 1:
		b.t(fmt.Sprintf("PA %d/%d, pouls %d, T° %d,%d °C", 10+b.r.IntN(8), 5+b.r.IntN(5), 50+b.r.IntN(70), 36+b.r.IntN(4), b.r.IntN(10)))
	default:
		b.t(fmt.Sprintf("TA %d/%d, FC %d bpm, poids %d kg, taille %d cm", 100+b.r.IntN(70), 50+b.r.IntN(50), 50+b.r.IntN(70), 45+b.r.IntN(70), 150+b.r.IntN(45)))
	}
}

func (b *builder) age() string { return fmt.Sprint(18 + b.r.IntN(80)) }

func (b *builder) hour() string {
	return fmt.Sprintf("%dh%02d", 7+b.r.IntN(14), 5*b.r.IntN(12))
}

var services = []string{"Service de médecine interne", "Service de cardiologie", "Service de pneumologie", "Service de neurologie",
	"Service de gériatrie", "Service de chirurgie digestive", "Service d'oncologie médicale", "Service de néphrologie",
	"Service des urgences", "Service de réanimation médicale", "Unité neurovasculaire", "Service d'hépato-gastro-entérologie",
	"Service de rhumatologie", "Service d'endocrinologie", "Service de chirurgie orthopédique", "Pôle femme-enfant",
	"Service de Cardiologie", "Service de Pneumologie", "SERVICE DE MÉDECINE POLYVALENTE", "Département d'anesthésie-réanimation"}

func (b *builder) service() { b.t(pick(b, services)) }

// sentence writes a random clinical sentence without identifiers.
func (b *builder) sentence() {
	switch b.r.IntN(12) {
	case 0:
		b.t("Antécédents : ")
		b.atcd(1 + b.r.IntN(3))
		b.t(".")
	case 1:
		b.t("Suivi pour une ")
		b.eponym()
		b.t(".")
	case 2:
		b.t("Traitement : ")
		b.drugs(1+b.r.IntN(3), ", ")
		b.t(".")
	case 3:
		b.t("Biologie : ")
		b.bio()
		b.t(".")
	case 4:
		b.vitals()
		b.t(".")
	case 5:
		b.t(b.one("Examen clinique sans particularité", "Auscultation cardio-pulmonaire normale", "Abdomen souple, dépressible, indolore",
			"Pas de signe de localisation neurologique", "Patient(e) conscient(e), orienté(e)", "Pas d'œdème des membres inférieurs"))
		b.t(". ")
		if b.chance(0.4) {
			b.t(b.one("Le ", "Un ") + "signe de " + b.one("Babinski", "Lasègue", "Murphy", "Kernig", "Romberg") + " est " + b.one("négatif", "absent", "positif à droite") + ".")
		}
	case 6:
		b.t(b.one("Contexte de ", "Dans les suites d'une ", "Notion de ", "Hospitalisation récente pour "))
		b.eponym()
		b.t(".")
	case 7:
		b.t(b.one("Relais par ", "Introduction de ", "Arrêt du ", "Majoration de "))
		b.drug()
		b.t(b.one(" par jour.", " matin et soir.", " le soir.", "."))
	case 8:
		b.t(b.one("Scanner thoracique : ", "IRM cérébrale : ", "Échographie abdominale : ", "Radiographie du thorax : ", "ETT : "))
		b.t(b.one("pas d'anomalie.", "nodule de 8 mm du lobe supérieur droit.", "lésion ischémique récente.", "FEVG à 45 %.", "épanchement pleural gauche de faible abondance."))
	case 9:
		b.t("Score de Glasgow à " + fmt.Sprint(3+b.r.IntN(13)) + ", " + b.one("EVA à 4/10", "NIHSS à 2", "MMSE à 24/30", "GIR 4") + ".")
	case 10:
		b.t(b.one("Patient", "Patiente", "Le patient", "La patiente") + " âgé" + b.one("", "e") + " de " + b.age() + " ans, " + b.one("autonome", "vivant seul", "vivant en EHPAD", "retraité", "sans activité professionnelle") + ".")
	default:
		b.t(b.one("Pas d'allergie connue.", "Allergie à la pénicilline.", "Tabac sevré.", "Pas de fièvre.", "Bonne tolérance du traitement.", "Apyrétique.", "Douleur bien contrôlée.", "Reprise de l'alimentation à J1."))
	}
}

func (b *builder) sentences(n int) {
	for i := 0; i < n; i++ {
		if i > 0 {
			b.t(b.one(" ", " ", "\n"))
		}
		switch {
		case b.chance(0.35) && b.split == Train:
			trainContext(b)
		case b.chance(0.35) && b.split == HeldOut:
			heldOutContext(b)
		default:
			b.sentence()
		}
	}
}

// capitalize returns s with an upper-case first letter.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
