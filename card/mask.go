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
