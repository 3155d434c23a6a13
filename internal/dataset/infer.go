package dataset

import (
	"math"
	"strconv"
	"unsafe"
)

// Reading text values (CSV cells, JSON strings, Table cells) as typed values.
//
// Type inference rules, applied to every non-missing value of a column (a
// column takes the first type all its values fit, in this order):
//
//   - integer: an optional sign and decimal digits that fit in 64 bits, with
//     no leading zero ("0123" is a code, not a number: postal codes, IPP
//     and NIR keep their zeros as strings);
//   - float: an optional sign, digits with one decimal mark ('.', or ',' when
//     the file uses a decimal comma), an optional exponent ("1e-3"); no
//     thousands separators, no leading zero before other digits, and no
//     "NaN" or "Inf" (missing values are missing, see NullValues);
//   - boolean: true/false, vrai/faux, oui/non, yes/no in any case. 0 and 1
//     are integers: a 0/1 column stays an integer column (declare it
//     boolean in the schema to store it as one);
//   - date: YYYY-MM-DD or DD/MM/YYYY (day and month may have one digit),
//     checked against the calendar ("1950-02-30" is not a date);
//   - datetime: a date, then 'T' or a space, then HH:MM, HH:MM:SS or
//     HH:MM:SS.fraction, then optionally Z or an offset (+01:00, +0100,
//     +01). Times without an offset are taken as UTC, so the wall-clock
//     time reads back unchanged; times with one are converted to UTC.
//     Fractions beyond microseconds are truncated. A column mixing dates and
//     datetimes is a datetime column (dates at midnight);
//   - string otherwise, and for a column without any value.
//
// Leading and trailing spaces are ignored when reading numbers, booleans and
// dates, and kept in strings.

// kinds a value can be read as (bit set).
const (
	kindInt uint8 = 1 << iota
	kindFloatDot
	kindFloatComma
	kindBool
	kindDate
	kindDatetime // a date or a datetime

	kindAll = kindInt | kindFloatDot | kindFloatComma | kindBool | kindDate | kindDatetime
)

// typeOfKinds returns the type for the kinds every value of a column fits,
// with decimal the file's decimal mark.
func typeOfKinds(k uint8, decimal byte) Type {
	float := kindFloatDot
	if decimal == ',' {
		float = kindFloatComma
	}
	switch {
	case k&kindInt != 0:
		return TypeInteger
	case k&float != 0:
		return TypeFloat
	case k&kindBool != 0:
		return TypeBoolean
	case k&kindDate != 0:
		return TypeDate
	case k&kindDatetime != 0:
		return TypeDatetime
	}
	return TypeString
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// trimSpace drops ASCII spaces and tabs around b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return c-'0' < 10 }

// classify returns the kinds a trimmed, non-empty value can be read as.
func classify(b []byte) uint8 {
	c := b[0]
	if isDigit(c) || c == '-' || c == '+' || c == '.' || c == ',' {
		var k uint8
		if len(b) >= 8 && isDigit(c) && (b[4] == '-' || b[1] == '/' || b[2] == '/') {
			if _, ok := parseDate(b); ok {
				return kindDate | kindDatetime
			}
			if _, ok := parseDatetime(b); ok {
				return kindDatetime
			}
		}
		if _, ok := parseInt(b); ok {
			return kindInt | kindFloatDot | kindFloatComma
		}
		k |= floatSyntax(b)
		return k
	}
	if _, ok := parseBool(b); ok {
		return kindBool
	}
	return 0
}

// parseInt reads a decimal integer without leading zeros.
func parseInt(b []byte) (int64, bool) {
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// floatSyntax returns kindFloatDot and/or kindFloatComma when b reads as a
// decimal number with that mark.
func floatSyntax(b []byte) uint8 {
	i := 0
	if b[0] == '-' || b[0] == '+' {
		i++
	}
	start := i
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	intDigits := i - start
	if intDigits > 1 && b[start] == '0' {
		return 0
	}
	kinds := kindFloatDot | kindFloatComma
	fracDigits := 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		if b[i] == '.' {
			kinds = kindFloatDot
		} else {
			kinds = kindFloatComma
		}
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return 0
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			i++
		}
		e := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == e || i-e > 3 {
			return 0
		}
	}
	if i != len(b) {
		return 0
	}
	return kinds
}

// parseFloat reads a number with the given decimal mark (after
// floatSyntax's rules).
func parseFloat(b []byte, decimal byte) (float64, bool) {
	k := floatSyntax(b)
	want := kindFloatDot
	if decimal == ',' {
		want = kindFloatComma
	}
	if k&want == 0 {
		return 0, false
	}
	if f, ok := parseFloatFast(b); ok {
		return f, true
	}
	var tmp [64]byte
	if decimal == ',' {
		if len(b) > len(tmp) {
			return 0, false
		}
		n := copy(tmp[:], b)
		for i := range n {
			if tmp[i] == ',' {
				tmp[i] = '.'
			}
		}
		b = tmp[:n]
	}
	// strconv copies the string into its errors, so viewing b without a copy
	// is safe.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// pow10 holds the powers of ten exactly representable as float64s.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloatFast reads the common case of a decimal number without an
// exponent and with at most 15 digits (either decimal mark; b has passed
// floatSyntax): the digits as an integer, exactly representable, divided by
// an exact power of ten, is the correctly rounded value (the same fast path
// as strconv's, without its generality).
func parseFloatFast(b []byte) (float64, bool) {
	neg := false
	i := 0
	switch b[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	var mant uint64
	digits, frac := 0, -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case isDigit(c):
			mant = mant*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case (c == '.' || c == ',') && frac < 0:
			frac = 0
		default:
			return 0, false // an exponent: the general path
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseBool reads the boolean words (see the rules above).
func parseBool(b []byte) (bool, bool) {
	if len(b) < 2 || len(b) > 5 {
		return false, false
	}
	var w [5]byte
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		w[i] = c
	}
	switch string(w[:len(b)]) {
	case "true", "vrai", "oui", "yes":
		return true, true
	case "false", "faux", "non", "no":
		return false, true
	}
	return false, false
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, len(b) > 0
}

// datePrefix reads a date at the start of b and returns its day number and
// length.
func datePrefix(b []byte) (days int64, n int, ok bool) {
	var y, m, d int64
	switch {
	case len(b) >= 10 && b[4] == '-' && b[7] == '-':
		var ok1, ok2, ok3 bool
		y, ok1 = digits(b[0:4])
		m, ok2 = digits(b[5:7])
		d, ok3 = digits(b[8:10])
		if !ok1 || !ok2 || !ok3 {
			return 0, 0, false
		}
		n = 10
	default:
		// D/M/YYYY with one or two digits for the day and the month.
		i := 0
		for i < len(b) && i < 3 && b[i] != '/' {
			i++
		}
		if i == 0 || i > 2 || i >= len(b) || b[i] != '/' {
			return 0, 0, false
		}
		j := i + 1
		for j < len(b) && j < i+4 && b[j] != '/' {
			j++
		}
		if j == i+1 || j > i+3 || j >= len(b) || b[j] != '/' || len(b) < j+5 {
			return 0, 0, false
		}
		var ok1, ok2, ok3 bool
		d, ok1 = digits(b[:i])
		m, ok2 = digits(b[i+1 : j])
		y, ok3 = digits(b[j+1 : j+5])
		if !ok1 || !ok2 || !ok3 {
			return 0, 0, false
		}
		n = j + 5
	}
	if y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, false
	}
	return daysFromCivil(y, m, d), n, true
}

// parseDate reads a date (the whole of b).
func parseDate(b []byte) (int64, bool) {
	days, n, ok := datePrefix(b)
	if !ok || n != len(b) {
		return 0, false
	}
	return days, true
}

// parseDatetime reads a datetime or a date (the whole of b) as microseconds
// since the Unix epoch, UTC.
func parseDatetime(b []byte) (int64, bool) {
	days, n, ok := datePrefix(b)
	if !ok {
		return 0, false
	}
	us := days * 86400e6
	if n == len(b) {
		return us, true
	}
	iso := b[4] == '-'
	if b[n] != ' ' && !(iso && b[n] == 'T') {
		return 0, false
	}
	t := b[n+1:]
	if len(t) < 5 || t[2] != ':' {
		return 0, false
	}
	hh, ok1 := digits(t[0:2])
	mm, ok2 := digits(t[3:5])
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, false
	}
	var ss, frac int64
	t = t[5:]
	if len(t) >= 3 && t[0] == ':' {
		var ok bool
		if ss, ok = digits(t[1:3]); !ok || ss > 59 {
			return 0, false
		}
		t = t[3:]
		if len(t) >= 2 && (t[0] == '.' || t[0] == ',') {
			i := 1
			scale := int64(100000)
			for i < len(t) && isDigit(t[i]) {
				frac += int64(t[i]-'0') * scale
				scale /= 10
				i++
			}
			if i == 1 || i > 10 {
				return 0, false
			}
			t = t[i:]
		}
	}
	us += ((hh*60+mm)*60+ss)*1e6 + frac
	if len(t) == 0 {
		return us, true
	}
	if !iso {
		return 0, false
	}
	// Zone: Z, ±HH, ±HHMM or ±HH:MM.
	if len(t) == 1 && (t[0] == 'Z' || t[0] == 'z') {
		return us, true
	}
	sign := int64(1)
	switch t[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, false
	}
	t = t[1:]
	var oh, om int64
	switch {
	case len(t) == 2:
		oh, ok1 = digits(t)
		ok2 = true
	case len(t) == 4:
		oh, ok1 = digits(t[:2])
		om, ok2 = digits(t[2:])
	case len(t) == 5 && t[2] == ':':
		oh, ok1 = digits(t[:2])
		om, ok2 = digits(t[3:])
	default:
		return 0, false
	}
	if !ok1 || !ok2 || oh > 18 || om > 59 {
		return 0, false
	}
	return us - sign*(oh*60+om)*60e6, true
}

// appendText reads a trimmed, non-empty text value as a value of v's type and appends
// it to v. It reports false when the value does not fit the type.
func appendText(v *Vec, b []byte, decimal byte) bool {
	switch v.Type {
	case TypeInteger:
		n, ok := parseInt(b)
		if ok {
			v.AppendInt(n)
		}
		return ok
	case TypeFloat:
		f, ok := parseFloat(b, decimal)
		if ok {
			v.AppendFloat(f)
		}
		return ok
	case TypeBoolean:
		x, ok := parseBool(b)
		if !ok {
			// A declared boolean also accepts 0 and 1.
			if len(b) == 1 && (b[0] == '0' || b[0] == '1') {
				x, ok = b[0] == '1', true
			}
		}
		if ok {
			v.AppendInt(boolInt(x))
		}
		return ok
	case TypeDate:
		d, ok := parseDate(b)
		if ok {
			v.AppendInt(d)
		}
		return ok
	case TypeDatetime:
		us, ok := parseDatetime(b)
		if ok {
			v.AppendInt(us)
		}
		return ok
	}
	v.AppendString(string(b))
	return true
}

// appendInferred is appendText for a type inferred from values: it accepts
// exactly the values classify gives that type's kind (a boolean is then a
// word, not 0 or 1).
func appendInferred(v *Vec, b []byte, decimal byte) bool {
	if v.Type == TypeBoolean {
		x, ok := parseBool(b)
		if ok {
			v.AppendInt(boolInt(x))
		}
		return ok
	}
	return appendText(v, b, decimal)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
