package deid

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/privacy/deid/data"
)

// Surrogates draws realistic replacements. Within a document the same
// original string (case and accents aside) always gets the same
// replacement, formats are preserved (case, separators, date layout, NIR
// key validity) and all dates of a document move by the same offset, so
// that intervals survive. The choice is keyed: without the key, a
// replacement says nothing about the original.
type Surrogates struct {
	key []byte
}

// NewSurrogates returns a surrogate generator keyed by key; a nil key draws
// a random one (the usual case: surrogates then differ from run to run).
func NewSurrogates(key []byte) *Surrogates {
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	return &Surrogates{key: append([]byte(nil), key...)}
}

var (
	surOnce  sync.Once
	surLists struct {
		firstF, firstM, firstAll []string
		compoundF, compoundM     []string
		last                     []string
		communes                 []data.Commune
		hospitals                []string
		streets                  []string
		sex                      map[string]byte
	}
)

func loadSurLists() {
	surOnce.Do(func() {
		l := data.Load()
		s := &surLists
		s.sex = map[string]byte{}
		for i, f := range l.FirstNames {
			s.sex[fold(f.Name)] = f.Sex
			if i > 600 && !strings.Contains(f.Name, "-") {
				continue // keep common names: surrogates should look ordinary
			}
			switch {
			case strings.Contains(f.Name, "-") && f.Sex == 'F':
				s.compoundF = append(s.compoundF, f.Name)
			case strings.Contains(f.Name, "-"):
				s.compoundM = append(s.compoundM, f.Name)
			case f.Sex == 'F':
				s.firstF = append(s.firstF, f.Name)
			case f.Sex == 'M':
				s.firstM = append(s.firstM, f.Name)
			default:
				s.firstF = append(s.firstF, f.Name)
				s.firstM = append(s.firstM, f.Name)
			}
		}
		s.firstAll = append(append([]string{}, s.firstF...), s.firstM...)
		for i, n := range l.LastNames {
			if i < 2000 && !strings.Contains(n, " ") {
				s.last = append(s.last, n)
			}
		}
		for _, c := range l.Communes {
			if c.Population >= 2000 && c.Department < "97" {
				s.communes = append(s.communes, c)
			}
		}
		s.hospitals = l.Hospitals
		s.streets = l.Streets
	})
}

// docSurrogates holds the replacements of one document.
type docSurrogates struct {
	s     *Surrogates
	text  string
	spans []span
	memo  map[string]string
	used  map[string]bool
	shift int // days, for every date of the document
	towns map[int]data.Commune
	out   []string
}

func (s *Surrogates) document(text string, spans []span) *docSurrogates {
	loadSurLists()
	ds := &docSurrogates{s: s, text: text, spans: spans, memo: map[string]string{}, used: map[string]bool{}, towns: map[int]data.Commune{}}
	r := s.rng("shift", text)
	ds.shift = r.IntN(730) - 365
	if ds.shift == 0 {
		ds.shift = 17
	}
	// A postal code followed by its town gets a matching pair.
	for i := 0; i+1 < len(spans); i++ {
		if spans[i].label == Zip && spans[i+1].label == Ville {
			key := fold(text[spans[i].start:spans[i].end] + " " + text[spans[i+1].start:spans[i+1].end])
			c := surLists.communes[s.rng("town", key).IntN(len(surLists.communes))]
			ds.towns[i] = c
			ds.towns[i+1] = c
		}
	}
	ds.out = make([]string, len(spans))
	for i, sp := range spans {
		ds.out[i] = ds.make(i, sp)
	}
	return ds
}

func (ds *docSurrogates) replacement(i int) string { return ds.out[i] }

// rng returns a generator seeded by the key and the given strings.
func (s *Surrogates) rng(parts ...string) *mrand.Rand {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	sum := m.Sum(nil)
	return mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

func (ds *docSurrogates) make(i int, sp span) string {
	orig := ds.text[sp.start:sp.end]
	if c, ok := ds.towns[i]; ok {
		if sp.label == Zip {
			return c.PostalCodes[0]
		}
		return matchCase(orig, c.Name)
	}
	key := sp.label.String() + "\x00" + fold(orig)
	if sp.label == Date || sp.label == DateNaissance {
		key = "date\x00" + orig
	}
	recase := func(v string) string {
		switch sp.label {
		case Nom, Prenom, Ville:
			return matchCase(orig, v)
		}
		return v
	}
	if v, ok := ds.memo[key]; ok {
		return recase(v)
	}
	var v string
	for attempt := 0; attempt < 8; attempt++ {
		r := ds.s.rng(key, strconv.Itoa(attempt))
		v = ds.generate(sp.label, orig, r)
		if !ds.used[sp.label.String()+"\x00"+fold(v)] && fold(v) != fold(orig) {
			break
		}
	}
	ds.used[sp.label.String()+"\x00"+fold(v)] = true
	ds.memo[key] = v
	return recase(v)
}

func pickStr(r *mrand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

func (ds *docSurrogates) generate(l Label, orig string, r *mrand.Rand) string {
	L := &surLists
	switch l {
	case Nom:
		parts := strings.Fields(orig)
		v := pickStr(r, L.last)
		if len(parts) > 1 && r.IntN(2) == 0 {
			v = pickStr(r, L.last)
		}
		return v
	case Prenom:
		sex := L.sex[fold(orig)]
		if sex == 0 {
			sex = L.sex[fold(strings.SplitN(orig, "-", 2)[0])]
		}
		list := L.firstAll
		switch sex {
		case 'F':
			list = L.firstF
		case 'M':
			list = L.firstM
		}
		if strings.Contains(orig, "-") {
			c := L.compoundM
			if sex == 'F' {
				c = L.compoundF
			}
			if len(c) > 0 {
				return pickStr(r, c)
			}
		}
		return pickStr(r, list)
	case Ville:
		return L.communes[r.IntN(len(L.communes))].Name
	case Zip:
		return L.communes[r.IntN(len(L.communes))].PostalCodes[0]
	case Hopital:
		f := strings.Fields(orig)
		switch {
		case len(f) > 0 && (strings.EqualFold(f[0], "CHU") || strings.EqualFold(f[0], "CH") || strings.EqualFold(f[0], "CHR")):
			return f[0] + " de " + bigCommune(r)
		case len(f) > 0 && strings.EqualFold(fold(f[0]), "clinique"):
			return f[0] + " " + pickStr(r, []string{"du Val", "des Cèdres", "Saint-Roch", "de la Source", "des Lilas", "du Mail"})
		}
		return pickStr(r, L.hospitals)
	case Adresse:
		return ds.address(orig, r)
	case Date, DateNaissance:
		if v, ok := shiftDate(orig, ds.shift); ok {
			return v
		}
		return scrambleDigits(orig, r)
	case Tel:
		return ds.phone(orig, r)
	case Secu:
		return nirSurrogate(orig, r)
	case Mail:
		f := fold(pickStr(r, L.firstAll))
		n := fold(pickStr(r, L.last))
		dom := "example.fr"
		if at := strings.LastIndexByte(orig, '@'); at >= 0 {
			switch d := strings.ToLower(orig[at+1:]); d {
			case "gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr", "hotmail.com", "wanadoo.fr", "yahoo.fr", "sfr.fr", "outlook.fr", "outlook.com", "icloud.com":
				dom = d
			}
		}
		return asciiOnly(f) + "." + asciiOnly(n) + "@" + dom
	default: // IPP, NDA and anything else: same shape, new digits
		return scrambleDigits(orig, r)
	}
}

func bigCommune(r *mrand.Rand) string {
	for i := 0; i < 50; i++ {
		c := surLists.communes[r.IntN(len(surLists.communes))]
		if c.Population > 40000 {
			return c.Name
		}
	}
	return "Valence"
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// matchCase gives v the case style of orig: upper case, or as written.
func matchCase(orig, v string) string {
	letters, upper := 0, 0
	for _, r := range orig {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters > 1 && upper == letters {
		return strings.ToUpper(v)
	}
	if letters > 0 && upper == 0 {
		return strings.ToLower(v)
	}
	return v
}

// scrambleDigits replaces every digit with a random one, keeping the rest.
func scrambleDigits(s string, r *mrand.Rand) string {
	b := []byte(s)
	first := true
	for i, c := range b {
		if c >= '0' && c <= '9' {
			d := byte('0' + r.IntN(10))
			if first && c != '0' && d == '0' {
				d = '1' + byte(r.IntN(9))
			}
			b[i] = d
			first = false
		}
	}
	return string(b)
}

// phone keeps the prefix (0X, +33 X) and separators, and draws the rest.
func (ds *docSurrogates) phone(s string, r *mrand.Rand) string {
	b := []byte(s)
	seen := 0
	keep := 2 // "0X"
	if strings.HasPrefix(s, "+") {
		keep = 3 // "+33" then the first digit
	} else if strings.HasPrefix(s, "00") {
		keep = 5
	}
	for i, c := range b {
		if c >= '0' && c <= '9' {
			seen++
			if seen > keep {
				b[i] = byte('0' + r.IntN(10))
			}
		}
	}
	return string(b)
}

// nirSurrogate draws a NIR with the same sex digit and spacing and a valid key.
func nirSurrogate(s string, r *mrand.Rand) string {
	var chars []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= '0' && c <= '9') || c == 'A' || c == 'B' || c == 'a' || c == 'b' {
			chars = append(chars, c)
		}
	}
	if len(chars) != 15 && len(chars) != 13 {
		return scrambleDigits(s, r)
	}
	body := fmt.Sprintf("%c%02d%02d%02d%03d%03d", chars[0], r.IntN(100), 1+r.IntN(12), 1+r.IntN(95), 1+r.IntN(990), 1+r.IntN(999))
	var n uint64
	for _, c := range body {
		n = n*10 + uint64(c-'0')
	}
	all := body
	if len(chars) == 15 {
		all += fmt.Sprintf("%02d", 97-n%97)
	}
	// Lay the new characters into the original spacing.
	out := []byte(s)
	k := 0
	for i := 0; i < len(out) && k < len(all); i++ {
		c := out[i]
		if (c >= '0' && c <= '9') || c == 'A' || c == 'B' || c == 'a' || c == 'b' {
			out[i] = all[k]
			k++
		}
	}
	return string(out)
}

// address keeps the number's length, the suffix and the street type, and
// draws the street name.
func (ds *docSurrogates) address(orig string, r *mrand.Rand) string {
	f := strings.Fields(orig)
	var b strings.Builder
	i := 0
	if i < len(f) && f[0][0] >= '0' && f[0][0] <= '9' {
		b.WriteString(strconv.Itoa(1 + r.IntN(120)))
		b.WriteByte(' ')
		i++
		if i < len(f) && streetSuffix[hashFold(f[i])] && !isStreetType(f[i]) {
			b.WriteString(f[i] + " ")
			i++
		}
	}
	typ := "rue"
	if i < len(f) && isStreetType(f[i]) {
		typ = f[i]
	}
	b.WriteString(typ + " " + pickStr(r, surLists.streets))
	return b.String()
}

func isStreetType(w string) bool {
	for _, s := range builtinStreets {
		if fold(strings.TrimSuffix(w, ".")) == fold(s) {
			return true
		}
	}
	return false
}

// Date shifting, layout preserved.

var monthsFR = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
var monthsAbbr = []string{"janv", "févr", "mars", "avr", "mai", "juin", "juil", "août", "sept", "oct", "nov", "déc"}

// shiftDate moves a date by days, keeping its layout.
func shiftDate(s string, days int) (string, bool) {
	// Numeric layouts: d/m/y with separator, ISO, or d/m.
	var nums []string
	var seps []string
	cur := ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			cur += string(c)
			continue
		}
		if cur == "" {
			nums = nil
			break
		}
		nums = append(nums, cur)
		cur = ""
		seps = append(seps, string(c))
	}
	if cur != "" {
		nums = append(nums, cur)
	}
	if len(nums) >= 2 && len(seps) == len(nums)-1 {
		var d, m, y int
		var dw, mw, yw int
		iso := len(nums) == 3 && len(nums[0]) == 4
		if iso {
			y, m, d = atoi(nums[0]), atoi(nums[1]), atoi(nums[2])
			yw, mw, dw = 4, len(nums[1]), len(nums[2])
		} else {
			d, m = atoi(nums[0]), atoi(nums[1])
			dw, mw = len(nums[0]), len(nums[1])
			y = 2000
			if len(nums) == 3 {
				y, yw = atoi(nums[2]), len(nums[2])
				if yw == 2 {
					y += 1900
					if y < 1930 {
						y += 100
					}
				}
			}
		}
		t, ok := mkDate(y, m, d)
		if !ok {
			return "", false
		}
		t = t.AddDate(0, 0, days)
		pad := func(v, w int) string {
			if w >= 2 {
				return fmt.Sprintf("%0*d", w, v)
			}
			return strconv.Itoa(v)
		}
		if iso {
			return fmt.Sprintf("%04d%s%s%s%s", t.Year(), seps[0], pad(int(t.Month()), mw), seps[1], pad(t.Day(), dw)), true
		}
		out := pad(t.Day(), dw) + seps[0] + pad(int(t.Month()), mw)
		if len(nums) == 3 {
			yv := t.Year()
			if yw == 2 {
				yv %= 100
			}
			out += seps[1] + pad(yv, yw)
		}
		return out, true
	}
	// Textual: "3 janvier 2024", "1er mars", "12 janv. 2020".
	f := strings.Fields(s)
	if len(f) < 2 {
		return "", false
	}
	dayStr := strings.TrimSuffix(f[0], "er")
	d := atoi(dayStr)
	mname := strings.TrimSuffix(fold(f[1]), ".")
	m := 0
	abbr := strings.HasSuffix(f[1], ".")
	for i := range monthsFR {
		if fold(monthsFR[i]) == mname || fold(monthsAbbr[i]) == mname {
			m = i + 1
			break
		}
	}
	if d <= 0 || m == 0 {
		return "", false
	}
	y := 2000
	hasYear := len(f) >= 3
	if hasYear {
		y = atoi(f[2])
		if len(f[2]) == 2 {
			y += 2000
		}
	}
	t, ok := mkDate(y, m, d)
	if !ok {
		return "", false
	}
	t = t.AddDate(0, 0, days)
	day := strconv.Itoa(t.Day())
	if t.Day() == 1 && strings.HasSuffix(f[0], "er") {
		day = "1er"
	} else if len(dayStr) == 2 && t.Day() < 10 {
		day = "0" + day
	}
	mo := monthsFR[t.Month()-1]
	if abbr {
		mo = monthsAbbr[t.Month()-1] + "."
	}
	mo = matchCase(f[1], mo)
	if r, _ := utf8.DecodeRuneInString(f[1]); unicode.IsUpper(r) && strings.ToUpper(mo) != mo {
		mo = titleCase(mo)
	}
	out := day + " " + mo
	if hasYear {
		if len(f[2]) == 2 {
			out += fmt.Sprintf(" %02d", t.Year()%100)
		} else {
			out += " " + strconv.Itoa(t.Year())
		}
	}
	return out, true
}

func mkDate(y, m, d int) (time.Time, bool) {
	if m < 1 || m > 12 || d < 1 || d > 31 || y < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 12, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}
