package card

import "strings"

// MaskPAN is the one way a card number is shown in logs, errors and metrics:
// the first six and the last four digits stay, the rest become '*'. Anything
// of ten characters or fewer is masked whole but for its last two.
func MaskPAN(pan string) string {
	n := len(pan)
	switch {
	case n == 0:
		return ""
	case n <= 10:
		if n <= 2 {
			return strings.Repeat("*", n)
		}
		return strings.Repeat("*", n-2) + pan[n-2:]
	}
	return pan[:6] + strings.Repeat("*", n-10) + pan[n-4:]
}

// MaskID is the one way a national ID is shown in logs, errors and metrics:
// the first character and the last two stay ("A1*******89" style: A*******89).
func MaskID(id string) string {
	n := len(id)
	if n <= 3 {
		return strings.Repeat("*", n)
	}
	return id[:1] + strings.Repeat("*", n-3) + id[n-2:]
}

// PANLast4 returns the last four digits of a PAN (what a receipt may print).
func PANLast4(pan string) string {
	if len(pan) <= 4 {
		return pan
	}
	return pan[len(pan)-4:]
}

// Scrub masks whatever in a free text could be a card number (a run of 12
// to 19 digits, MaskPAN) or a national ID (a letter, then 1, 2, 8 or 9 or a
// letter A to D, then eight digits, MaskID). It is for texts the gateway
// does not compose itself, such as a recovered panic's value and stack,
// before they reach a log.
func Scrub(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if isDigit(c) {
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if n := j - i; n >= 12 && n <= 19 {
				b.WriteString(MaskPAN(s[i:j]))
			} else {
				b.WriteString(s[i:j])
			}
			i = j
			continue
		}
		if isLetter(c) && i+10 <= len(s) && (i == 0 || !isLetter(s[i-1]) && !isDigit(s[i-1])) && looksLikeID(s[i:i+10]) &&
			(i+10 == len(s) || !isDigit(s[i+10])) {
			b.WriteString(MaskID(s[i : i+10]))
			i += 10
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

func looksLikeID(s string) bool {
	c := s[1]
	if !(c == '1' || c == '2' || c == '8' || c == '9' || c >= 'A' && c <= 'D' || c >= 'a' && c <= 'd') {
		return false
	}
	for i := 2; i < 10; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
