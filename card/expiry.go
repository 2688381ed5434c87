package card

import (
	"errors"
	"time"
)

// Errors of CheckExpiry: the gateway answers 54 for ErrExpired and 30 for
// ErrBadExpiry.
var (
	ErrExpired   = errors.New("card: card expired")
	ErrBadExpiry = errors.New("card: expiry date (DE14) is not YYMM")
)

// CheckExpiry checks DE14, YYMM with YY meaning 20YY. A card is good
// through the end of its expiry month: it is expired (ErrExpired) only when
// that month is before the month of now, taken in now's location (pass the
// gateway's local time, Asia/Taipei). Anything but four ASCII digits with a
// month of 01-12 is ErrBadExpiry.
func CheckExpiry(yymm string, now time.Time) error {
	if len(yymm) != 4 || !allDigits(yymm) {
		return ErrBadExpiry
	}
	year := 2000 + int(yymm[0]-'0')*10 + int(yymm[1]-'0')
	month := int(yymm[2]-'0')*10 + int(yymm[3]-'0')
	if month < 1 || month > 12 {
		return ErrBadExpiry
	}
	if year*12+month < now.Year()*12+int(now.Month()) {
		return ErrExpired
	}
	return nil
}
