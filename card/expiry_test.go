package card

import (
	"errors"
	"testing"
	"time"
)

func TestCheckExpiry(t *testing.T) {
	taipei := time.FixedZone("Asia/Taipei", 8*3600)
	mar15 := time.Date(2024, 3, 15, 12, 0, 0, 0, taipei)
	newYear := time.Date(2025, 1, 1, 0, 0, 0, 0, taipei)
	newYearsEve := time.Date(2024, 12, 31, 23, 59, 59, 0, taipei)
	tests := []struct {
		name string
		yymm string
		now  time.Time
		err  error
	}{
		{"current month still valid", "2403", mar15, nil},
		{"current month, its last second", "2412", newYearsEve, nil},
		{"next month", "2404", mar15, nil},
		{"far future", "9912", mar15, nil},
		{"previous month expired", "2402", mar15, ErrExpired},
		{"previous year expired", "2312", mar15, ErrExpired},
		{"December expired on 1 January", "2412", newYear, ErrExpired},
		{"January valid on 1 January", "2501", newYear, nil},
		{"January valid in December", "2501", newYearsEve, nil},
		{"year 2000", "0001", mar15, ErrExpired},
		{"empty", "", mar15, ErrBadExpiry},
		{"three digits", "240", mar15, ErrBadExpiry},
		{"five digits", "24031", mar15, ErrBadExpiry},
		{"letter", "24a3", mar15, ErrBadExpiry},
		{"sign", "+403", mar15, ErrBadExpiry},
		{"month 00", "2400", mar15, ErrBadExpiry},
		{"month 13", "2413", mar15, ErrBadExpiry},
		{"month 99 of an old year", "1099", mar15, ErrBadExpiry},
		{"full-width digits", "２４０３", mar15, ErrBadExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckExpiry(tc.yymm, tc.now)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
	if errors.Is(ErrExpired, ErrBadExpiry) || errors.Is(ErrBadExpiry, ErrExpired) {
		t.Error("expired and malformed are not distinct")
	}
}

func TestCheckExpiryUsesNowsLocation(t *testing.T) {
	// 2024-03-31 20:00 UTC is already 1 April in Taipei.
	utc := time.Date(2024, 3, 31, 20, 0, 0, 0, time.UTC)
	if err := CheckExpiry("2403", utc); err != nil {
		t.Errorf("in UTC it is still March: %v", err)
	}
	if err := CheckExpiry("2403", utc.In(time.FixedZone("Asia/Taipei", 8*3600))); !errors.Is(err, ErrExpired) {
		t.Errorf("in Taipei it is April: got %v", err)
	}
}
