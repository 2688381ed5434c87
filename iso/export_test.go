package iso

// ContractField is a line of the field table as the tests outside the
// package see it.
type ContractField struct {
	N     int
	Fixed bool   // no length prefix: always Max characters
	Max   int    // characters on the wire (hex digits for Hex fields)
	Class string // "n", "an", "ans", "hex" or "big5"
}

// ContractFields is the field table, in wire order.
func ContractFields() []ContractField {
	names := map[class]string{classN: "n", classAN: "an", classANS: "ans", classHex: "hex", classBig5: "big5"}
	out := make([]ContractField, len(contract))
	for i, f := range contract {
		out[i] = ContractField{N: f.n, Fixed: f.kind == fixed, Max: f.max, Class: names[f.class]}
	}
	return out
}

// SetField sets field de of m: text for a text field, b for a byte field.
func (m *Message) SetField(de int, text string, b []byte) {
	f := lookup(de)
	if f.bin != nil {
		*f.bin(m) = b
		return
	}
	*f.str(m) = text
}

// ParseAmounts reads DE54 as FormatAmounts writes it (the tests' oracle;
// the simulator has its own reader, sim.ParseAmounts): exactly two amounts,
// one of type 90 and one of type 91 (in either order), account type 00,
// currency 901. A problem is a *FieldError for field 54.
func ParseAmounts(s string) (contributions, earnings int64, err error) {
	if len(s) != 2*amountLen {
		return 0, 0, &FieldError{Field: 54, Reason: "not two amounts of 20 characters"}
	}
	var seen [2]bool
	for i := 0; i < 2; i++ {
		a := s[i*amountLen : (i+1)*amountLen]
		if a[:2] != amountAccountType {
			return 0, 0, &FieldError{Field: 54, Reason: "account type not 00"}
		}
		if a[4:7] != CurrencyTWD {
			return 0, 0, &FieldError{Field: 54, Reason: "currency not 901"}
		}
		digits := a[8:]
		if !isDigits(digits) {
			return 0, 0, &FieldError{Field: 54, Reason: "amount not 12 digits"}
		}
		var v int64
		for j := 0; j < len(digits); j++ {
			v = v*10 + int64(digits[j]-'0')
		}
		switch a[7] {
		case 'C':
		case 'D':
			v = -v
		default:
			return 0, 0, &FieldError{Field: 54, Reason: "sign not C or D"}
		}
		switch a[2:4] {
		case AmountContribution:
			if seen[0] {
				return 0, 0, &FieldError{Field: 54, Reason: "amount type 90 twice"}
			}
			seen[0], contributions = true, v
		case AmountEarnings:
			if seen[1] {
				return 0, 0, &FieldError{Field: 54, Reason: "amount type 91 twice"}
			}
			seen[1], earnings = true, v
		default:
			return 0, 0, &FieldError{Field: 54, Reason: "amount type not 90 or 91"}
		}
	}
	return contributions, earnings, nil
}
