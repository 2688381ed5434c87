package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bli/atmgw/iso"
)

// Consent is a consent form (資料查詢服務同意書) as a partner's counter
// registers it online: an 0302 (interface.md section 11).
type Consent struct {
	Action     string    // add, replace or revoke (DE91 1, 2, 3)
	PAN        string    // DE2
	NationalID string    // 10 characters
	Name       string    // UTF-8; sent in Big5 (DE121); not sent on a revoke
	Birth      time.Time // date of birth
	Services   string    // pension, insurance or both
	Signed     time.Time // the date the form (or the revocation) was signed
}

// ConsentTerminal is the DE41 the simulator's counter sends (CTR + the
// institution's last three digits + 01).
func ConsentTerminal(institution string) string {
	s := fmt.Sprintf("%03s", institution)
	return "CTR" + s[len(s)-3:] + "01"
}

// FileUpdateCode is DE91 of an action: add 1, replace 2, revoke (delete) 3.
func FileUpdateCode(action string) (string, error) {
	switch strings.ToLower(action) {
	case "add":
		return iso.FileAdd, nil
	case "replace":
		return iso.FileReplace, nil
	case "revoke", "delete":
		return iso.FileDelete, nil
	}
	return "", fmt.Errorf("action %q: want add, replace or revoke", action)
}

// ServicesCode is the services character of DE120: pension P, insurance
// I, both B.
func ServicesCode(services string) (byte, error) {
	switch strings.ToLower(services) {
	case "pension":
		return 'P', nil
	case "insurance":
		return 'I', nil
	case "both", "":
		return 'B', nil
	}
	return 0, fmt.Errorf("services %q: want pension, insurance or both", services)
}

// ROCDate writes a date as ROC YYYMMDD (民國: the year minus 1911).
func ROCDate(t time.Time) string {
	return fmt.Sprintf("%03d%02d%02d", t.Year()-1911, int(t.Month()), t.Day())
}

// ConsentData is DE120: national ID (10), birth date ROC YYYMMDD (7),
// services (P, I or B), signed date ROC YYYMMDD (7).
func ConsentData(id string, birth time.Time, services byte, signed time.Time) string {
	return fmt.Sprintf("%-10s%s%c%s", id, ROCDate(birth), services, ROCDate(signed))
}

// FileUpdate builds the 0302 of a consent: DE2, DE7 (UTC, from now), DE11,
// DE32 and DE41 of the terminal, DE91, DE101 BLICONSENT, DE120, and DE121
// (the name in Big5) for an add or a replace. A revoke needs only the
// signed date of c: DE120 carries c's other data when given (zeros and
// spaces would be malformed), so give them as for an add.
func FileUpdate(t Terminal, c Consent, stan string, now time.Time) (*iso.Message, error) {
	code, err := FileUpdateCode(c.Action)
	if err != nil {
		return nil, err
	}
	svc, err := ServicesCode(c.Services)
	if err != nil {
		return nil, err
	}
	if c.PAN == "" {
		return nil, errors.New("no card number (PAN)")
	}
	m := &iso.Message{
		MTI:              iso.MTIFileUpdate,
		PAN:              c.PAN,
		TransmissionTime: now.UTC().Format("0102150405"),
		STAN:             stan,
		Institution:      t.Institution,
		TerminalID:       t.ID,
		FileUpdateCode:   code,
		FileName:         iso.FileConsent,
		ConsentData:      ConsentData(c.NationalID, c.Birth, svc, c.Signed),
	}
	if code != iso.FileDelete {
		m.ConsentName = EncodeBig5(c.Name)
	}
	return m, nil
}
