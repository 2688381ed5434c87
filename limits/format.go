package limits

import "time"

// maxAmount is the largest magnitude DE54 and DE62 can carry (12 digits).
// Screens and receipts clamp to it as well, so that all three agree.
const maxAmount = 999_999_999_999

func clampAmount(v int64) int64 {
	switch {
	case v > maxAmount:
		return maxAmount
	case v < -maxAmount:
		return -maxAmount
	}
	return v
}

// rocYear is the ROC (民國) year of a Gregorian year, clamped to 0..999 so
// that it always takes three digits.
func rocYear(y int) int {
	y -= 1911
	switch {
	case y < 0:
		return 0
	case y > 999:
		return 999
	}
	return y
}

// appendDigits appends v (≥ 0) zero-padded to width digits; v must fit.
func appendDigits(b []byte, v int64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 || i == len(buf) {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(buf) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, buf[i:]...)
}

// appendROCMonth appends a data period: 11303, or 113/03 with slash.
func appendROCMonth(b []byte, year, month int, slash bool) []byte {
	b = appendDigits(b, int64(rocYear(year)), 3)
	if slash {
		b = append(b, '/')
	}
	if month < 0 || month > 99 {
		month = 0
	}
	return appendDigits(b, int64(month), 2)
}

// appendROCDate appends a date: 1130307, or 113/03/07 with slash.
func appendROCDate(b []byte, t time.Time, slash bool) []byte {
	y, m, d := t.Date()
	b = appendROCMonth(b, y, int(m), slash)
	if slash {
		b = append(b, '/')
	}
	return appendDigits(b, int64(d), 2)
}

// appendClock appends hh:mm:ss.
func appendClock(b []byte, t time.Time) []byte {
	h, m, s := t.Clock()
	b = appendDigits(b, int64(h), 2)
	b = append(b, ':')
	b = appendDigits(b, int64(m), 2)
	b = append(b, ':')
	return appendDigits(b, int64(s), 2)
}

func digitCount(u int64) int {
	n := 1
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// amountWidth is the width of appendAmount's output for v (already
// clamped).
func amountWidth(v int64, sep bool) int {
	neg := 0
	if v < 0 {
		v, neg = -v, 1
	}
	d := digitCount(v)
	if sep {
		d += (d - 1) / 3
	}
	return neg + d
}

// appendAmount appends v (already clamped) in whole dollars: "-1,234", or
// "-1234" without separators.
func appendAmount(b []byte, v int64, sep bool) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var buf [32]byte
	i := len(buf)
	for n := 0; ; n++ {
		if sep && n > 0 && n%3 == 0 {
			i--
			buf[i] = ','
		}
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

// appendSigned appends the DE62 form of an amount: sign + or - and 12
// digits, clamped to what 12 digits hold.
func appendSigned(b []byte, v int64) []byte {
	v = clampAmount(v)
	if v < 0 {
		return appendDigits(append(b, '-'), -v, 12)
	}
	return appendDigits(append(b, '+'), v, 12)
}

// appendUnsigned appends v zero-padded to width digits, clamped to
// 0..10^width-1.
func appendUnsigned(b []byte, v int64, width int) []byte {
	max := int64(1)
	for range width {
		max *= 10
	}
	switch {
	case v < 0:
		v = 0
	case v >= max:
		v = max - 1
	}
	return appendDigits(b, v, width)
}
