package iso

// DE54 of an approved pension answer: two amounts of 20 characters each,
// account type "00", amount type ("90" cumulative contributions, "91"
// cumulative earnings), currency "901" (TWD), sign "C" (>= 0) or "D" (< 0),
// 12 digits of whole New Taiwan dollars.
const (
	amountLen          = 20
	amountAccountType  = "00"
	AmountContribution = "90" // amount type of cumulative contributions 累計提繳金額
	AmountEarnings     = "91" // amount type of cumulative earnings 累計運用收益金額
	CurrencyTWD        = "901"
	maxAmount          = 999_999_999_999 // 12 digits
)

// FormatAmounts builds DE54 for an approved pension answer: contributions
// first, then earnings. A magnitude beyond 12 digits (a trillion dollars:
// not a personal account) is clamped to 999999999999.
func FormatAmounts(contributions, earnings int64) string {
	b := make([]byte, 0, 2*amountLen)
	b = appendAmount(b, AmountContribution, contributions)
	b = appendAmount(b, AmountEarnings, earnings)
	return string(b)
}

func appendAmount(b []byte, kind string, v int64) []byte {
	b = append(b, amountAccountType...)
	b = append(b, kind...)
	b = append(b, CurrencyTWD...)
	var mag uint64
	if v < 0 {
		b = append(b, 'D')
		mag = uint64(-(v + 1)) + 1 // no overflow at math.MinInt64
	} else {
		b = append(b, 'C')
		mag = uint64(v)
	}
	if mag > maxAmount {
		mag = maxAmount
	}
	var digits [12]byte
	for i := 11; i >= 0; i-- {
		digits[i] = byte('0' + mag%10)
		mag /= 10
	}
	return append(b, digits[:]...)
}
