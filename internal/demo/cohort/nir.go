package cohort

import (
	"fmt"
	"strconv"
	"time"
)

// A NIR (numéro d'inscription au répertoire, the French social security
// number) is 15 characters:
//
//	S YY MM DD CCC OOO KK
//
// S is the sex (1 male, 2 female), YY the last two digits of the birth year,
// MM the birth month, DD the birth department (2A/2B for Corsica), CCC the
// commune, OOO the order number of the birth in that commune and month, and
// KK the control key 97 - (the 13-digit number mod 97), where 2A and 2B count
// as 19 and 18.

// departments are the numeric metropolitan department codes used by Generate
// (01–95; Corsica's 2A and 2B are left out so that every generated NIR is
// 15 digits).
var departments = func() []string {
	var d []string
	for i := 1; i <= 95; i++ {
		if i != 20 {
			d = append(d, fmt.Sprintf("%02d", i))
		}
	}
	return d
}()

// makeNIR builds a NIR with its control key.
func makeNIR(female bool, birth time.Time, dept string, commune, order int) string {
	sex := 1
	if female {
		sex = 2
	}
	body := fmt.Sprintf("%d%02d%02d%s%03d%03d", sex, birth.Year()%100, int(birth.Month()), dept, commune, order)
	key, ok := nirKey(body)
	if !ok {
		panic("cohort: malformed NIR body " + body)
	}
	return fmt.Sprintf("%s%02d", body, key)
}

// nirKey returns the control key of a 13-character NIR body, or false if
// the body is malformed.
func nirKey(body string) (int, bool) {
	if len(body) != 13 {
		return 0, false
	}
	switch body[5:7] {
	case "2A":
		body = body[:5] + "19" + body[7:]
	case "2B":
		body = body[:5] + "18" + body[7:]
	}
	if !allDigits(body) {
		return 0, false
	}
	n, err := strconv.ParseUint(body, 10, 64)
	if err != nil {
		return 0, false
	}
	return int(97 - n%97), true
}

// ValidNIR reports whether s is a well-formed NIR with a correct control key:
// 15 characters without spaces, all digits except a Corsican department
// 2A/2B, a sex digit of 1 or 2, and a key equal to 97 - (number mod 97).
// It checks the form and the key only; it does not check that the month,
// department or commune exist. Any single changed digit is detected.
func ValidNIR(s string) bool {
	if len(s) != 15 || (s[0] != '1' && s[0] != '2') || !allDigits(s[13:]) {
		return false
	}
	want, ok := nirKey(s[:13])
	if !ok {
		return false
	}
	key, _ := strconv.Atoi(s[13:])
	return key == want
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
