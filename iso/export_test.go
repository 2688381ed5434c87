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
