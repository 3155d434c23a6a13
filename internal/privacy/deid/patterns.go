package deid

import (
	"strings"
	"unicode/utf8"
)

// The rule layer: validated patterns for numbers, dates, e-mails,
// addresses and named facilities. Every matcher works on the token stream
// and the raw string, in byte offsets, and appends spans to doc.rules.

// isSep reports whether a separator inside a number starts at s[i], and its size.
func isSep(s string, i int) (bool, int) {
	if i >= len(s) {
		return false, 0
	}
	switch s[i] {
	case ' ', '.', '-':
		return true, 1
	case 0xC2: // U+00A0
		if i+1 < len(s) && s[i+1] == 0xA0 {
			return true, 2
		}
	case 0xE2: // U+202F, U+2009
		if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xAF || s[i+2] == 0x89) {
			return true, 3
		}
	}
	return false, 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// alnumBefore reports whether the character before i is a letter or digit.
func alnumBefore(s string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	if r < utf8.RuneSelf {
		c := byte(r)
		return isDigit(c) || isASCIILetter(c)
	}
	ok, _ := isLetterAt(string(r), 0)
	return ok
}

// alnumAt reports whether a letter or digit starts at i.
func alnumAt(s string, i int) bool {
	ok, _ := isAlnumAt(s, i)
	return ok
}

// digitRun collects up to max digits from i, allowing one separator between
// digits. It returns the digits, the end of the last digit, and whether a
// digit (possibly after one separator) follows.
func digitRun(s string, i, max int, buf []byte) ([]byte, int, bool) {
	buf = buf[:0]
	end := i
	for i < len(s) && len(buf) < max {
		if isDigit(s[i]) {
			buf = append(buf, s[i])
			i++
			end = i
			continue
		}
		if len(buf) == 0 {
			break
		}
		ok, n := isSep(s, i)
		if !ok || i+n >= len(s) || !isDigit(s[i+n]) {
			break
		}
		i += n
	}
	more := end < len(s) && isDigit(s[end])
	if !more {
		if ok, n := isSep(s, end); ok && end+n < len(s) && isDigit(s[end+n]) && s[end] != '.' {
			more = true
		}
	}
	return buf, end, more
}

// NIR (numéro d'inscription au répertoire): sex, year, month, department
// (2A/2B for Corsica), commune, order, key = 97 − (number mod 97).

// matchNIR matches a 15-character NIR (or 13 without key) at i. It returns
// the end, whether the key is present and valid, and whether a key exists.
func matchNIR(s string, i int) (end int, valid, hasKey bool) {
	var chars [15]byte
	n := 0
	j := i
	end = i
	for j < len(s) && n < 15 {
		c := s[j]
		switch {
		case isDigit(c):
			chars[n] = c
		case (n == 6) && chars[5] == '2' && (c == 'A' || c == 'B' || c == 'a' || c == 'b'):
			chars[n] = c &^ 0x20
		default:
			if n > 0 {
				if ok, sz := isSep(s, j); ok && j+sz < len(s) && (isDigit(s[j+sz]) || (n == 6 && chars[5] == '2' && (s[j+sz]|0x20 == 'a' || s[j+sz]|0x20 == 'b'))) {
					j += sz
					continue
				}
			}
			goto done
		}
		n++
		j++
		end = j
	}
done:
	if end < len(s) && alnumAt(s, end) {
		return 0, false, false
	}
	if n != 13 && n != 15 {
		return 0, false, false
	}
	if !strings.ContainsRune("123478", rune(chars[0])) {
		return 0, false, false
	}
	month := int(chars[3]-'0')*10 + int(chars[4]-'0')
	if month == 0 || (month > 12 && month < 20) || (month > 42 && month < 50) {
		return 0, false, false
	}
	if n == 13 {
		return end, false, false
	}
	var num uint64
	for k := 0; k < 13; k++ {
		c := chars[k]
		switch {
		case k == 6 && c == 'A': // "2A" counts as 19
			num = num*10 + 9 - 10
		case k == 6 && c == 'B': // "2B" counts as 18
			num = num*10 + 8 - 10
		default:
			if !isDigit(c) {
				return 0, false, false
			}
			num = num*10 + uint64(c-'0')
		}
	}
	key := int(chars[13]-'0')*10 + int(chars[14]-'0')
	return end, 97-int(num%97) == key, true
}

// NIRKeyValid reports whether s (spaces allowed) is a 15-character NIR
// whose key matches.
func NIRKeyValid(s string) bool {
	end, valid, _ := matchNIR(s, 0)
	return valid && end == len(strings.TrimRight(s, " "))
}

// matchPhone matches a French phone number at i ('+' or a digit), in any
// spelling: 0X XX XX XX XX with spaces, dots, dashes or nothing, +33 or 0033
// with an optional (0), and other international numbers (+CC then 6–12 digits).
func matchPhone(s string, i int, buf []byte) int {
	j := i
	intl := false
	if s[j] == '+' {
		j++
		if j >= len(s) || !isDigit(s[j]) {
			return 0
		}
		if strings.HasPrefix(s[j:], "33") {
			j += 2
			intl = true
		} else {
			// Other country: 1–3 digit code, then 6–12 digits.
			k := j
			for k < len(s) && k-j < 3 && isDigit(s[k]) {
				k++
			}
			if ok, n := isSep(s, k); ok {
				k += n
			}
			d, end, more := digitRun(s, k, 13, buf)
			if more || len(d) < 6 || len(d) > 12 || alnumAt(s, end) {
				return 0
			}
			return end
		}
	} else if strings.HasPrefix(s[j:], "0033") {
		j += 4
		intl = true
	}
	if intl {
		if ok, n := isSep(s, j); ok {
			j += n
		}
		if strings.HasPrefix(s[j:], "(0)") {
			j += 3
			if ok, n := isSep(s, j); ok {
				j += n
			}
		}
		if j >= len(s) || s[j] < '1' || s[j] > '9' {
			return 0
		}
		d, end, more := digitRun(s, j, 9, buf)
		if len(d) != 9 || more || alnumAt(s, end) {
			return 0
		}
		return end
	}
	if s[j] != '0' || j+1 >= len(s) {
		return 0
	}
	d, end, more := digitRun(s, j, 10, buf)
	if len(d) != 10 || d[1] == '0' || more || alnumAt(s, end) {
		return 0
	}
	return end
}

// matchNumericDate matches dd/mm/yyyy, dd.mm.yy, dd-mm-yyyy, yyyy-mm-dd at i.
// It returns the end and whether a year is present.
func matchNumericDate(s string, i int) (int, bool) {
	num := func(j, min, max int) (int, int) {
		k := j
		v := 0
		for k < len(s) && isDigit(s[k]) && k-j < max {
			v = v*10 + int(s[k]-'0')
			k++
		}
		if k-j < min || (k < len(s) && isDigit(s[k])) {
			return -1, j
		}
		return v, k
	}
	// ISO.
	if y, k := num(i, 4, 4); y >= 1900 && y <= 2100 && k < len(s) && s[k] == '-' {
		if m, k2 := num(k+1, 2, 2); m >= 1 && m <= 12 && k2 < len(s) && s[k2] == '-' {
			if d, k3 := num(k2+1, 2, 2); d >= 1 && d <= 31 && !alnumAt(s, k3) {
				return k3, true
			}
		}
		return 0, false
	}
	d, k := num(i, 1, 2)
	if d < 1 || d > 31 || k >= len(s) {
		return 0, false
	}
	sep := s[k]
	if sep != '/' && sep != '.' && sep != '-' {
		return 0, false
	}
	m, k2 := num(k+1, 1, 2)
	if m < 1 || m > 12 {
		return 0, false
	}
	if k2 < len(s) && s[k2] == sep && k2+1 < len(s) && isDigit(s[k2+1]) {
		y, k3 := num(k2+1, 2, 4)
		if y < 0 || k3-(k2+1) == 3 {
			return 0, false
		}
		if k3-(k2+1) == 4 && (y < 1880 || y > 2100) {
			return 0, false
		}
		if alnumAt(s, k3) || (k3+1 < len(s) && (s[k3] == sep || s[k3] == '/' || s[k3] == ',') && isDigit(s[k3+1])) {
			return 0, false
		}
		return k3, true
	}
	if alnumAt(s, k2) || (k2+1 < len(s) && (s[k2] == '/' || s[k2] == '.' || s[k2] == '-' || s[k2] == ',') && isDigit(s[k2+1])) {
		return 0, false
	}
	return k2, false
}

// matchMail matches an e-mail address around the '@' at p.
func matchMail(s string, p int) (int, int) {
	isLocal := func(c byte) bool {
		return isDigit(c) || isASCIILetter(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
	}
	l := p
	for l > 0 && isLocal(s[l-1]) {
		l--
	}
	for l < p && (s[l] == '.' || s[l] == '-') {
		l++
	}
	if l == p {
		return 0, 0
	}
	r := p + 1
	lastDot := -1
	for r < len(s) && (isDigit(s[r]) || isASCIILetter(s[r]) || s[r] == '-' || s[r] == '.') {
		if s[r] == '.' {
			lastDot = r
		}
		r++
	}
	for r > p+1 && (s[r-1] == '.' || s[r-1] == '-') {
		r--
	}
	if lastDot >= r {
		lastDot = strings.LastIndexByte(s[p+1:r], '.')
		if lastDot >= 0 {
			lastDot += p + 1
		}
	}
	if lastDot <= p+1 || r-lastDot-1 < 2 {
		return 0, 0
	}
	for k := lastDot + 1; k < r; k++ {
		if !isASCIILetter(s[k]) {
			return 0, 0
		}
	}
	return l, r
}

// Context words, folded.
var (
	hLe       = hashFold("le")
	hLes      = hashFold("les")
	hDu       = hashFold("du")
	hDe       = hashFold("de")
	hD        = hashFold("d'")
	hDes      = hashFold("des")
	hAu       = hashFold("au")
	hEr       = hashFold("er")
	hN        = hashFold("n")
	hNo       = hashFold("no")
	hNum      = hashFold("num")
	hNumero   = hashFold("numéro")
	hDate     = hashFold("date")
	hEn       = hashFold("en")
	hE        = hashFold("e")
	hA        = hashFold("à")
	hCedex    = hashFold("cedex")
	hCP       = hashFold("cp")
	hPostal   = hashFold("postal")
	hPatient  = hashFold("patient")
	hAdmin    = hashFold("administratif")
	hIPP      = hashFold("ipp")
	hNIP      = hashFold("nip")
	hNDA      = hashFold("nda")
	hID       = hashFold("id")
	hIdent    = hashFold("identifiant")
	hDossier  = hashFold("dossier")
	hTA       = hashFold("ta")
	hPA       = hashFold("pa")
	hTension  = hashFold("tension")
	hPremier  = hashFold("premier")
	hCH       = hashFold("ch")
	hCentre   = hashFold("centre")
	hInstitut = hashFold("institut")
	hGroupe   = hashFold("groupe")
	hFond     = hashFold("fondation")
	hMaison   = hashFold("maison")
)

var (
	dateContext  = hashSet("le", "du", "au", "depuis", "dès", "des", "jusqu'au", "avant", "après", "entre", "et", "date", "ce", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "(", ":", "j", "fait")
	addrContext  = hashSet("demeurant", "domicilié", "domiciliée", "domicilie", "domiciliee", "habite", "habitant", "habitante", "résidant", "résidante", "réside", "adresse", "vit", "demeure", "domicile", "sis", "sise")
	streetSuffix = hashSet("bis", "ter", "quater", "b", "t", "a", "c")
	facilityTail = hashSet("hospitalier", "hospitaliere", "hospitalière", "universitaire", "régional", "regional", "régionale",
		"intercommunal", "intercommunale", "spécialisé", "specialise", "général", "general", "privé", "prive", "privée",
		"hospitalo-universitaire", "civils", "médical", "medical", "médico-chirurgical", "mutualiste", "psychiatrique",
		"gériatrique", "pédiatrique", "d'instruction", "armées", "armees", "santé", "sante", "rééducation", "reeducation",
		"réadaptation", "soins", "suite", "local", "départemental", "departemental", "de", "des", "hospitalisation",
		"chirurgicale", "médicale", "universitaires", "hospitaliers", "lutte", "contre", "le", "cancer", "fonctionnelle")
	nameParticles     = hashSet("de", "du", "des", "d'", "la", "le", "les", "l'", "sur", "sous", "en", "lès", "lez", "et", "aux", "au")
	facilityParticles = hashSet("de", "du", "des", "d'", "la", "le", "les", "l'", "sur", "en", "lès")
	idFillers         = hashSet(":", "=", "#", "°", "º", "n", "no", "nº", "num", "numéro", "numero", "de", "du", "d'", "patient", "administratif", "séjour", "sejour", "(", ")", "-", "/", "dossier", "unique", "permanent", "hospitalisation", "la", "visite", "venue")
	idStrong          = hashSet("ipp", "nip", "nda", "ins")
)

func hashSet(words ...string) map[uint64]bool {
	m := make(map[uint64]bool, len(words))
	for _, w := range words {
		if len(w) == 1 && !isASCIILetter(w[0]) {
			m[hashString(fnvOffset, w)] = true
		} else {
			m[hashFold(w)] = true
		}
	}
	return m
}

// tokAt returns the index of the token starting at byte offset b, or -1.
func (d *doc) tokAt(b int) int {
	lo, hi := 0, len(d.toks)
	for lo < hi {
		m := (lo + hi) / 2
		if int(d.toks[m].start) < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(d.toks) && int(d.toks[lo].start) == b {
		return lo
	}
	return -1
}

// tokEndingAt returns the index of the last token ending at or before b.
func (d *doc) tokEndingAt(b int) int {
	lo, hi := 0, len(d.toks)
	for lo < hi {
		m := (lo + hi) / 2
		if int(d.toks[m].end) <= b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

func (d *doc) text(i int) string { return d.s[d.toks[i].start:d.toks[i].end] }

func (d *doc) isPunct(i int, c byte) bool {
	return d.toks[i].kind == tkPunct && d.s[d.toks[i].start] == c
}

func (d *doc) add(start, end int, l Label) {
	d.rules = append(d.rules, span{start: int32(start), end: int32(end), label: l, src: srcRule})
}

// runRules applies every pattern to the document.
func (d *doc) runRules() {
	s := d.s
	// E-mail addresses.
	for p := strings.IndexByte(s, '@'); p >= 0; {
		if l, r := matchMail(s, p); r > 0 {
			d.add(l, r, Mail)
		}
		q := strings.IndexByte(s[p+1:], '@')
		if q < 0 {
			break
		}
		p += 1 + q
	}
	var buf [32]byte
	for i := 0; i < len(d.toks); i++ {
		t := d.toks[i]
		switch t.kind {
		case tkNum:
			d.numberAt(i, buf[:0])
		case tkPunct:
			if s[t.start] == '+' && i+1 < len(d.toks) && d.toks[i+1].kind == tkNum && d.toks[i+1].start == t.end && !alnumBefore(s, int(t.start)) {
				if end := matchPhone(s, int(t.start), buf[:0]); end > 0 {
					d.add(int(t.start), end, Tel)
				}
			}
		case tkWord:
			b := d.bits[i]
			if b&(gzIPP|gzNDA|gzSecu) != 0 {
				d.identifierAfter(i)
			}
			if b&gzStreet != 0 {
				d.addressAt(i, -1)
			}
			if b&(gzFacility|gzHosp) != 0 {
				d.facilityAt(i)
			}
		}
	}
}

// numberAt tries the numeric patterns at number token i.
func (d *doc) numberAt(i int, buf []byte) {
	s := d.s
	t := d.toks[i]
	b := int(t.start)
	if alnumBefore(s, b) {
		return
	}
	// A number continuing a digit group ("12 34") is not a start, unless
	// the previous group is itself a whole pattern (handled by the caller
	// through overlap resolution).
	if end, valid, hasKey := matchNIR(s, b); end > 0 {
		if valid || d.context(i, gzSecu, 6) {
			d.add(b, end, Secu)
			return
		}
		_ = hasKey
	}
	if end := matchPhone(s, b, buf); end > 0 {
		d.add(b, end, Tel)
		return
	}
	if end, year := matchNumericDate(s, b); end > 0 {
		if year || d.dateContextBefore(i) {
			d.addDate(i, b, end)
			return
		}
	}
	// Textual date: 3 janvier 2024, 1er mars.
	if t.end-t.start <= 2 && i+1 < len(d.toks) {
		day := atoi(s[t.start:t.end])
		j := i + 1
		if day == 1 && d.toks[j].kind == tkWord && d.hashes[j] == hEr && d.toks[j].start == t.end {
			j++
		}
		if day >= 1 && day <= 31 && j < len(d.toks) && d.bits[j]&gzMonth != 0 && d.toks[j].flags&tfNewline == 0 {
			end := int(d.toks[j].end)
			k := j + 1
			if k < len(d.toks) && d.isPunct(k, '.') && d.toks[k].start == d.toks[j].end && d.toks[j].end-d.toks[j].start <= 5 {
				k++ // abbreviated month
			}
			if k < len(d.toks) && d.toks[k].kind == tkNum && d.toks[k].flags&tfNewline == 0 {
				y := s[d.toks[k].start:d.toks[k].end]
				if v := atoi(y); (len(y) == 4 && v >= 1880 && v <= 2100) || len(y) == 2 {
					if !(k+1 < len(d.toks) && d.toks[k+1].start == d.toks[k].end && (d.toks[k+1].kind != tkPunct || d.s[d.toks[k+1].start] == ':' || d.s[d.toks[k+1].start] == 'h')) {
						end = int(d.toks[k].end)
					}
				}
			}
			d.addDate(i, b, end)
			return
		}
	}
	// Postal code followed by a town.
	if t.end-t.start == 5 && i+1 < len(d.toks) {
		d.zipAt(i)
	}
	// Street number.
	if t.end-t.start <= 4 {
		d.addressAt(-1, i)
	}
}

func atoi(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return -1
		}
		v = v*10 + int(s[i]-'0')
		if v > 1e8 {
			return -1
		}
	}
	return v
}

// context reports whether a token with category bit b occurs within the
// n tokens before i on the same line.
func (d *doc) context(i int, b uint32, n int) bool {
	for k := i - 1; k >= 0 && k >= i-n; k-- {
		if d.bits[k]&b != 0 {
			return true
		}
		if d.toks[k].flags&tfLineStart != 0 {
			break
		}
	}
	return false
}

// dateContextBefore reports whether a day/month without year is introduced
// as a date ("le 12/03") and not a blood pressure ("TA 12/8").
func (d *doc) dateContextBefore(i int) bool {
	if i == 0 {
		return false
	}
	h := d.hashes[i-1]
	if h == hTA || h == hPA || h == hTension {
		return false
	}
	return dateContext[h]
}

// addDate adds a date, as a birth date when introduced by "né le", "DDN",
// "date de naissance".
func (d *doc) addDate(i, start, end int) {
	l := Date
	for k := i - 1; k >= 0 && k >= i-6; k-- {
		if d.bits[k]&gzBirth != 0 {
			l = DateNaissance
			break
		}
		t := d.toks[k]
		h := d.hashes[k]
		if t.kind == tkPunct || h == hLe || h == hDu || h == hDate || h == hDe || h == hEn || h == hE || h == hA {
			if t.flags&tfLineStart != 0 {
				break
			}
			continue
		}
		break
	}
	d.add(start, end, l)
}

// zipAt adds a postal code at token i when a town follows (or "CP" precedes),
// and the town itself.
func (d *doc) zipAt(i int) {
	s := d.s
	t := d.toks[i]
	z := s[t.start:t.end]
	if t.end < int32(len(s)) && (s[t.end] == '/' || s[t.end] == ',' || s[t.end] == '.') && int(t.end)+1 < len(s) && isDigit(s[t.end+1]) {
		return
	}
	if alnumAt(s, int(t.end)) {
		return
	}
	next := i + 1
	cp := i > 0 && (d.hashes[i-1] == hCP || d.hashes[i-1] == hPostal || (i > 1 && d.isPunct(i-1, ':') && (d.hashes[i-2] == hCP || d.hashes[i-2] == hPostal)))
	town := next < len(d.toks) && d.toks[next].kind == tkWord && d.toks[next].flags&(tfUpper|tfNewline) == tfUpper && d.bits[next]&(gzMed|gzDrug) == 0
	if !town && !cp {
		return
	}
	known := d.lx.knownZip(z)
	if !known && !cp && d.bits[next]&gzCommune == 0 {
		// An unknown code: accept when it follows an address or a comma
		// on an address line.
		if !(i > 0 && (d.isPunct(i-1, ',') || d.toks[i].flags&tfLineStart != 0)) {
			return
		}
		if z[0] == '0' && z[1] == '0' {
			return
		}
	}
	d.add(int(t.start), int(t.end), Zip)
	if town {
		d.townAt(next)
	}
}

// townAt adds the town name starting at token i (after a postal code).
func (d *doc) townAt(i int) {
	end := -1
	for k := i; k < len(d.toks) && k < i+8; k++ {
		t := d.toks[k]
		if k > i && t.flags&tfNewline != 0 {
			break
		}
		if t.kind != tkWord {
			break
		}
		if d.hashes[k] == hCedex {
			break
		}
		if t.flags&tfUpper != 0 {
			end = k
			continue
		}
		if nameParticles[d.hashes[k]] && t.flags&tfApos == 0 && k+1 < len(d.toks) && d.toks[k+1].flags&tfUpper != 0 {
			continue
		}
		if t.flags&tfApos != 0 && k+1 < len(d.toks) && d.toks[k+1].start == t.end {
			continue
		}
		break
	}
	if end >= i {
		d.add(int(d.toks[i].start), int(d.toks[end].end), Ville)
	}
}

// identifierAfter adds the patient identifier, stay number or social
// security number introduced by the keyword at token i.
func (d *doc) identifierAfter(i int) {
	h := d.hashes[i]
	b := d.bits[i]
	var l Label
	switch {
	case h == hIPP || h == hNIP:
		l = IPP
	case h == hNDA:
		l = NDA
	case b&gzSecu != 0:
		l = Secu
	case b&gzIPP != 0:
		// "identifiant patient", "ID patient", "N° patient".
		if i+1 < len(d.toks) && d.hashes[i+1] == hPatient || (i+2 < len(d.toks) && d.hashes[i+2] == hPatient) {
			l = IPP
		} else {
			return
		}
	case b&gzNDA != 0:
		// Weak keywords need "n°", "numéro" before them.
		ok := false
		for k := i - 1; k >= 0 && k >= i-3; k-- {
			hk := d.hashes[k]
			if hk == hN || hk == hNo || hk == hNum || hk == hNumero {
				ok = true
				break
			}
		}
		// ... or "n°", ":" after them: "séjour n° 123456", "Venue : 123456".
		if !ok && i+1 < len(d.toks) {
			hn := d.hashes[i+1]
			ok = hn == hN || hn == hNo || hn == hNum || hn == hNumero || (d.isPunct(i+1, ':') && i+2 < len(d.toks) && d.toks[i+2].kind == tkNum)
		}
		if !ok {
			return
		}
		l = NDA
	default:
		return
	}
	if l == Secu && !(h == hashFold("nir") || h == hashFold("ins")) {
		// "N° SS", "sécurité sociale": the number is matched by matchNIR
		// with context; nothing more to do here.
		return
	}
	for k := i + 1; k < len(d.toks) && k <= i+6; k++ {
		t := d.toks[k]
		if t.flags&tfNewline != 0 && k > i+1 && !d.isPunct(k-1, ':') {
			return
		}
		if t.kind == tkNum || (t.kind == tkWord && t.flags&tfDigit != 0) {
			v := d.s[t.start:t.end]
			digits := 0
			for j := 0; j < len(v); j++ {
				if isDigit(v[j]) {
					digits++
				}
			}
			end := int(t.end)
			// Grouped digits: "800 123 4567".
			for m := k + 1; m < len(d.toks) && d.toks[m].kind == tkNum && t.kind == tkNum; m++ {
				gap := d.s[d.toks[m-1].end:d.toks[m].start]
				if gap != " " && gap != "." && gap != "-" && gap != "\u00a0" {
					break
				}
				if d.toks[m-1].end-d.toks[m-1].start > 4 {
					break
				}
				digits += int(d.toks[m].end - d.toks[m].start)
				end = int(d.toks[m].end)
			}
			if digits >= 5 && !alnumAt(d.s, end) {
				if l == Secu {
					l = Secu
				}
				d.add(int(t.start), end, l)
			}
			return
		}
		if t.kind == tkPunct || idFillers[d.hashes[k]] || (t.kind == tkWord && (d.bits[k]&(gzIPP|gzNDA) != 0)) {
			continue
		}
		return
	}
}

// addressAt adds a street address: [number [bis|ter]] street-type name.
// Exactly one of street (token of the street type) and num is set.
func (d *doc) addressAt(street, num int) {
	s := d.s
	start := -1
	if num >= 0 {
		if v := atoi(d.text(num)); v <= 0 || v > 9999 {
			return
		}
		if num > 0 && d.toks[num-1].kind == tkNum {
			return
		}
		j := num + 1
		if j < len(d.toks) && d.toks[j].kind == tkWord && streetSuffix[d.hashes[j]] && d.bits[j]&gzStreet == 0 {
			j++
		}
		if j < len(d.toks) && d.isPunct(j, ',') {
			j++
		}
		if j >= len(d.toks) || d.bits[j]&gzStreet == 0 || d.toks[j].flags&tfNewline != 0 {
			return
		}
		start, street = num, j
	} else {
		// Without a number: only after an address context word.
		if d.toks[street].flags&tfAllCaps != 0 && d.toks[street].end-d.toks[street].start <= 3 {
			return // "CH" is a hospital, not a chemin
		}
		if street > 0 && d.toks[street-1].kind == tkNum {
			return // handled from the number
		}
		if street > 0 && (d.toks[street-1].kind == tkWord && streetSuffix[d.hashes[street-1]]) {
			return
		}
		ok := false
		for k := street - 1; k >= 0 && k >= street-3; k-- {
			if addrContext[d.hashes[k]] {
				ok = true
				break
			}
		}
		if !ok {
			return
		}
		start = street
	}
	// Street name.
	k := street + 1
	if k < len(d.toks) && d.isPunct(k, '.') && d.toks[k].start == d.toks[street].end {
		k++ // "av."
	}
	end := -1
	lowerAfterParticle := 0
	for ; k < len(d.toks) && k < street+12; k++ {
		t := d.toks[k]
		if t.flags&tfNewline != 0 {
			break
		}
		h := d.hashes[k]
		if t.kind == tkNum {
			if t.end-t.start == 5 {
				break // postal code
			}
			// "rue du 8 Mai 1945", "avenue du 11 Novembre".
			if k+1 < len(d.toks) && (d.bits[k+1]&gzMonth != 0 || d.toks[k+1].flags&tfUpper != 0) {
				end = k
				continue
			}
			if end >= 0 && d.bits[k-1]&gzMonth != 0 {
				end = k
				continue
			}
			break
		}
		if t.kind == tkPunct {
			c := s[t.start]
			if c == '.' && k > 0 && d.toks[k-1].kind == tkWord && d.toks[k-1].end == t.start && d.toks[k-1].end-d.toks[k-1].start <= 3 && k+1 < len(d.toks) && d.toks[k+1].flags&tfUpper != 0 {
				continue // "St. Jean"
			}
			break
		}
		if h == hA {
			break
		}
		if t.flags&tfUpper != 0 {
			if d.bits[k]&(gzMed|gzFacility) != 0 && d.bits[k]&(gzLast|gzFirst|gzCommune) == 0 && t.flags&tfAllCaps != 0 {
				break
			}
			end = k
			lowerAfterParticle = 0
			continue
		}
		if nameParticles[h] {
			continue
		}
		// A lower-case word right after a particle: "rue de la gare".
		if k > 0 && nameParticles[d.hashes[k-1]] && lowerAfterParticle == 0 && d.toks[k].flags&tfApos == 0 {
			end = k
			lowerAfterParticle++
			continue
		}
		break
	}
	if end < 0 {
		return
	}
	d.add(int(d.toks[start].start), int(d.toks[end].end), Adresse)
}

// facilityAt adds a named care facility starting at keyword token i:
// "Hôpital Édouard Herriot", "CHU de Grenoble", "Clinique du Parc",
// "centre hospitalier de Valence", or a name of the gazetteer.
func (d *doc) facilityAt(i int) {
	if i > 0 && d.bits[i-1]&(gzFacility|gzHosp) != 0 && d.toks[i].flags&tfNewline == 0 && d.toks[i-1].kind == tkWord {
		// Inside a facility phrase already handled from its first keyword,
		// unless the previous word is only a gazetteer hit ending there.
		if d.bits[i-1]&gzFacility != 0 {
			return
		}
	}
	t := d.toks[i]
	h := d.hashes[i]
	b := d.bits[i]
	// A multi-token gazetteer facility starting here.
	gazEnd := -1
	if b&gzHosp != 0 {
		for k := i; k < len(d.toks) && d.bits[k]&gzHosp != 0; k++ {
			if k > i && d.toks[k].flags&tfNewline != 0 {
				break
			}
			gazEnd = k
		}
	}
	if b&gzFacility == 0 {
		if gazEnd >= 0 && (gazEnd > i || t.flags&tfUpper != 0) {
			d.add(int(t.start), int(d.toks[gazEnd].end), Hopital)
		}
		return
	}
	// Keywords that are ordinary words need a capital letter.
	if (h == hCH || h == hCentre || h == hInstitut || h == hGroupe || h == hFond || h == hMaison) && t.flags&tfUpper == 0 {
		return
	}
	if h == hCH && t.flags&tfAllCaps == 0 {
		return
	}
	k := i + 1
	// Keyword tail: "centre hospitalier universitaire de", "hôpital privé".
	for k < len(d.toks) && d.toks[k].kind == tkWord && d.toks[k].flags&(tfNewline|tfUpper) == 0 && (facilityTail[d.hashes[k]] || d.bits[k]&gzFacility != 0) {
		k++
	}
	// Name: particles and capitalised words, hyphenated parts.
	end := -1
	for ; k < len(d.toks) && k < i+12; k++ {
		tk := d.toks[k]
		if tk.flags&tfNewline != 0 {
			break
		}
		if tk.kind == tkWord && tk.flags&tfUpper != 0 {
			if d.bits[k]&gzMed != 0 && d.bits[k]&(gzLast|gzFirst|gzCommune|gzHosp) == 0 {
				break
			}
			end = k
			continue
		}
		if tk.kind == tkWord && facilityParticles[d.hashes[k]] {
			continue
		}
		if tk.kind == tkWord && d.bits[k]&gzHosp != 0 && k <= gazEnd {
			end = k
			continue
		}
		if tk.kind == tkNum && end >= 0 && tk.end-tk.start <= 2 && !(k+1 < len(d.toks) && d.toks[k+1].kind == tkNum) {
			// "CHU Lyon 2"? rare; stop.
			break
		}
		break
	}
	if gazEnd > end {
		end = gazEnd
	}
	if end <= i {
		return
	}
	d.add(int(t.start), int(d.toks[end].end), Hopital)
}
