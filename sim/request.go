package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/bli/atmgw/iso"
)

// Taipei is Taiwan's time (UTC+8, no daylight saving): DE12 and DE13 are
// the ATM's local time; DE7 is UTC.
var taipei = time.FixedZone("CST", 8*60*60)

// Service is one of the two inquiries.
type Service string

const (
	Pension   Service = "pension"
	Insurance Service = "insurance"
)

// ParseService reads "pension" or "insurance".
func ParseService(s string) (Service, error) {
	switch Service(strings.ToLower(s)) {
	case Pension:
		return Pension, nil
	case Insurance:
		return Insurance, nil
	}
	return "", fmt.Errorf("service %q: want pension or insurance", s)
}

// ProcessingCode is the service's DE3.
func (s Service) ProcessingCode() string {
	if s == Insurance {
		return iso.ProcInsurance
	}
	return iso.ProcPension
}

// Terminal is the simulated ATM: its institution, terminal id and card
// acceptor id.
type Terminal struct {
	Institution string // DE32
	ID          string // DE41, 8 characters
	Acceptor    string // DE42, 15 characters (empty: not sent)
}

// DefaultAcceptor is the DE42 the simulator sends.
const DefaultAcceptor = "BLIQUERY0000001"

// Inquiry builds the 0200 of one card use: DE2, DE14 and DE23 from the
// card, DE22 051 (chip), DE55 from the use, DE7 (UTC), DE12 and DE13 (Taipei
// time) from now, and DE37 from the local date and the STAN (YYMMDD + STAN).
func Inquiry(t Terminal, svc Service, u Use, stan string, now time.Time) *iso.Message {
	local := now.In(taipei)
	return &iso.Message{
		MTI:              iso.MTIFinancialRequest,
		PAN:              u.Info.PAN,
		ProcessingCode:   svc.ProcessingCode(),
		TransmissionTime: now.UTC().Format("0102150405"),
		STAN:             stan,
		LocalTime:        local.Format("150405"),
		LocalDate:        local.Format("0102"),
		Expiry:           u.Info.Expiry,
		EntryMode:        "051",
		CardSequence:     fmt.Sprintf("%03d", u.Info.Sequence),
		Institution:      t.Institution,
		RRN:              local.Format("060102") + stan,
		TerminalID:       t.ID,
		CardAcceptor:     t.Acceptor,
		ICC:              u.DE55,
	}
}

// CheckEcho lists the fields of an 0210 that do not echo the request's
// (docs/interface.md, section 3: ME fields). Fields the request lacks are
// not checked.
func CheckEcho(req, resp *iso.Message) []string {
	var bad []string
	check := func(de int, a, b string) {
		if a != "" && a != b {
			bad = append(bad, fmt.Sprintf("DE%d not echoed", de))
		}
	}
	check(2, req.PAN, resp.PAN)
	check(3, req.ProcessingCode, resp.ProcessingCode)
	check(7, req.TransmissionTime, resp.TransmissionTime)
	check(11, req.STAN, resp.STAN)
	check(12, req.LocalTime, resp.LocalTime)
	check(13, req.LocalDate, resp.LocalDate)
	check(32, req.Institution, resp.Institution)
	check(37, req.RRN, resp.RRN)
	check(41, req.TerminalID, resp.TerminalID)
	return bad
}
