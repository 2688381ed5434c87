package limits

import "github.com/bli/atmgw/card"

// DE62 sizes (docs/interface.md, section 6): a pension DE62 is 9 + 60·n + 26 bytes,
// an insurance DE62 9 + 56·n + 6.
const (
	StatementHeadLen    = 9  // service, row count, as-of date
	PensionRowLen       = 60 // period 5, kind 2, unit 40, amount 13
	InsuranceRowLen     = 56 // date 7, kind 2, unit 40, salary 7
	PensionTrailerLen   = 26 // contributions 13, earnings 13
	InsuranceTrailerLen = 6  // seniority years 3, remaining days 3
	UnitLen             = 40 // unit name, Big5, space-padded
)

// StatementLen is the length of a DE62 with n rows.
func StatementLen(s card.Service, n int) int {
	if s == card.ServiceInsurance {
		return StatementHeadLen + n*InsuranceRowLen + InsuranceTrailerLen
	}
	return StatementHeadLen + n*PensionRowLen + PensionTrailerLen
}

// Statement renders DE62, the statement data of an approved answer, fixed
// width as in docs/interface.md, section 6: service P or I, the row count 0-6,
// the as-of date (ROC YYYMMDD), the rows newest first (at most the first
// six of the statement), then the totals or the seniority. Unit names are
// cut to 40 bytes between characters and space-padded; amounts beyond 12
// digits are clamped to ±999999999999, salaries to 0-9999999, years to 999;
// kind codes are written as given.
func Statement(in Inquiry) []byte {
	v := newView(&in, false)
	t := cp950()
	svc := card.ServicePension
	if !v.pension {
		svc = card.ServiceInsurance
	}
	b := make([]byte, 0, StatementLen(svc, v.n))
	if v.pension {
		b = append(b, 'P')
	} else {
		b = append(b, 'I')
	}
	b = append(b, byte('0'+v.n))
	b = appendROCDate(b, v.asOf, false)
	for i := range v.n {
		r := &v.rows[i]
		if v.pension {
			b = appendROCMonth(b, r.year, r.month, false)
		} else {
			b = appendROCDate(b, r.date, false)
		}
		b = appendUnsigned(b, int64(r.code), 2)
		var used int
		b, used = t.appendText(b, r.unit, UnitLen)
		for ; used < UnitLen; used++ {
			b = append(b, ' ')
		}
		if v.pension {
			b = appendSigned(b, r.amount)
		} else {
			b = appendUnsigned(b, r.amount, 7)
		}
	}
	if v.pension {
		b = appendSigned(b, v.tot1)
		b = appendSigned(b, v.tot2)
	} else {
		b = appendUnsigned(b, int64(v.years), 3)
		b = appendUnsigned(b, int64(v.days), 3)
	}
	return b
}
