package limits

import (
	"strings"
	"unicode/utf8"
)

// MaskName masks a person's name for a screen or receipt: the first and the
// last character stay and every character between becomes ○ (王小明 → 王○明,
// 歐陽小明 → 歐○○明); a name of two characters keeps the first (李四 → 李○),
// one of one character stays as it is. An ASCII letter or digit is masked
// with * instead, so that the name keeps its width (JOHN SMITH →
// J*** ****H). Separators (space, ．, ·, ‧, •, '.', '-') are kept and do
// not count as characters (瓦歷斯．諾幹 → 瓦○○．○幹). Leading and trailing
// spaces are dropped.
func MaskName(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 4)
	maskName(name, func(r rune) { b.WriteRune(r) })
	return b.String()
}

func isNameSeparator(r rune) bool {
	switch r {
	case ' ', '\u3000', '.', '-', '\uFF0E', '\u00B7', '\u2027', '\u2022', '\u30FB', '\uFF0D':
		return true
	}
	return false
}

// maskName calls emit for each character of the masked name.
func maskName(name string, emit func(rune)) {
	name = strings.Trim(name, " \t\u3000")
	first, last, count := -1, -1, 0
	for i, r := range name {
		if isNameSeparator(r) {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
		count++
	}
	for i, r := range name {
		switch {
		case isNameSeparator(r), i == first, i == last && count >= 3:
			emit(r)
		case r < utf8.RuneSelf:
			emit('*')
		default:
			emit('○')
		}
	}
}
