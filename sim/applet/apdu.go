package applet

import "fmt"

// Status words the applet answers (ISO/IEC 7816-4).
const (
	SWOK                     uint16 = 0x9000
	SWWrongLength            uint16 = 0x6700
	SWConditionsNotSatisfied uint16 = 0x6985
	SWFileNotFound           uint16 = 0x6A82
	SWRecordNotFound         uint16 = 0x6A83
	SWWrongP1P2              uint16 = 0x6A86
	SWINSNotSupported        uint16 = 0x6D00
	SWCLANotSupported        uint16 = 0x6E00
	SWNoPreciseDiagnosis     uint16 = 0x6F00
	swWrongLeBase            uint16 = 0x6C00 // 6Cxx: wrong Le, xx is the right one
	swMoreDataBase           uint16 = 0x6100 // 61xx: xx more bytes with GET RESPONSE
)

// StatusError is a command the card answered with a status word other than
// 9000.
type StatusError struct {
	Command string // "SELECT", "READ RECORD", "GENERATE AC", ...
	SW      uint16
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("applet: %s: card answered %04X (%s)", e.Command, e.SW, swText(e.SW))
}

func swText(sw uint16) string {
	switch sw {
	case SWOK:
		return "success"
	case SWWrongLength:
		return "wrong length"
	case SWConditionsNotSatisfied:
		return "conditions of use not satisfied"
	case SWFileNotFound:
		return "application or file not found"
	case SWRecordNotFound:
		return "record not found"
	case SWWrongP1P2:
		return "incorrect P1 P2"
	case SWINSNotSupported:
		return "instruction not supported"
	case SWCLANotSupported:
		return "class not supported"
	case SWNoPreciseDiagnosis:
		return "no precise diagnosis"
	}
	switch sw & 0xFF00 {
	case swWrongLeBase:
		return "wrong Le"
	case swMoreDataBase:
		return "more data available"
	}
	return "unexpected status"
}

// command is a parsed short APDU (ISO/IEC 7816-4 cases 1 to 4).
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int  // 1..256; 0 when absent
	hasLe            bool // Le present (00 means 256)
}

// parseAPDU splits a short APDU. Extended-length APDUs and lengths that do
// not add up are refused with 6700.
func parseAPDU(b []byte) (command, uint16) {
	if len(b) < 4 {
		return command{}, SWWrongLength
	}
	c := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2
		c.hasLe, c.le = true, leValue(body[0])
	default:
		lc := int(body[0])
		if lc == 0 { // extended length: not supported
			return command{}, SWWrongLength
		}
		switch len(body) {
		case 1 + lc: // case 3
		case 2 + lc: // case 4
			c.hasLe, c.le = true, leValue(body[1+lc])
		default:
			return command{}, SWWrongLength
		}
		c.data = body[1 : 1+lc]
	}
	return c, SWOK
}

func leValue(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

// withSW appends the status word to the response data.
func withSW(data []byte, sw uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}

// statusOnly is a response without data.
func statusOnly(sw uint16) []byte { return []byte{byte(sw >> 8), byte(sw)} }
