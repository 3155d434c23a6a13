package deid

import "unicode"

func isUpperRune(r rune) bool { return unicode.IsUpper(r) }
func isLowerRune(r rune) bool { return unicode.IsLower(r) }
