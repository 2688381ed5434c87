package scenario

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bli/atmgw/sim"
)

// Scenario is one parsed scenario file.
type Scenario struct {
	Path        string `yaml:"-"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Decision    []int  `yaml:"decisions"` // decisions of docs/interface.md section 5 it covers (informative)
	Institution string `yaml:"institution"`
	Terminal    string `yaml:"terminal"`
	MACKey      string `yaml:"mac_key"`
	Cards       string `yaml:"cards"`   // card file, relative to the scenario (default: the caller's)
	Timeout     string `yaml:"timeout"` // per step (default 5s)
	// CheckLayout checks every 0210 against the contract (fields, DE61/DE63
	// against the profile, DE62, DE54) besides its code. Default true.
	CheckLayout *bool  `yaml:"check_layout"`
	Steps       []Step `yaml:"steps"`

	key     []byte
	timeout time.Duration
}

// Step is one action and what it should get.
type Step struct {
	Do   string `yaml:"do"`
	Name string `yaml:"name"` // optional description in the report

	// Expect is the response code wanted; "none": no answer at all (an echo
	// sent after it must be answered first); "closed": the gateway closes the
	// connection. Default: "00" for inquiry and network steps; for raw steps
	// it is required.
	Expect string `yaml:"expect"`

	// inquiry
	Card    string            `yaml:"card"`    // PAN of a card in the card file
	Service string            `yaml:"service"` // pension (default) or insurance
	Replay  bool              `yaml:"replay"`  // send the card's last ATC again
	MAC     string            `yaml:"mac"`     // auto, none, wrong
	MTI     string            `yaml:"mti"`     // another MTI (decision 2)
	Set     map[string]string `yaml:"set"`     // DE number → wire characters, after building
	Unset   []int             `yaml:"unset"`   // fields to leave out
	Repeat  int               `yaml:"repeat"`  // do it this many times (each a new card use)
	Rows    *int              `yaml:"rows"`    // DE62 row count wanted (on 00)
	Screen  string            `yaml:"screen_contains"`

	// inquiry, network steps
	Institution string `yaml:"institution"` // DE32 of this message (default the scenario's)
	Terminal    string `yaml:"terminal"`    // DE41 of this message

	// network
	Code string `yaml:"code"` // DE70 of a "network" step

	// consent (an 0302; card is the PAN, which need not be in the card file)
	Action   string `yaml:"action"`    // add, replace or revoke
	ID       string `yaml:"id"`        // national ID on the form
	Holder   string `yaml:"holder"`    // name on the form (UTF-8, sent in Big5)
	Birth    string `yaml:"birth"`     // YYYY-MM-DD
	Services string `yaml:"services"`  // pension, insurance or both (default)
	Signed   string `yaml:"signed"`    // YYYY-MM-DD (default today, Taiwan time)
	FileCode string `yaml:"file_code"` // DE91 as sent, instead of the action's
	File     string `yaml:"file"`      // DE101 as sent, instead of BLICONSENT

	// raw
	Hex    string `yaml:"hex"`    // message bytes as hex: a length header is added
	Text   string `yaml:"text"`   // message bytes as ASCII: a length header is added
	Framed string `yaml:"framed"` // bytes sent exactly as given (hex), header included
	Count  int    `yaml:"count"`  // send it this many times

	// set-stan
	STAN *int `yaml:"stan"`

	set map[int]string
}

// Step kinds.
const (
	DoSignOn       = "sign-on"
	DoSignOff      = "sign-off"
	DoEcho         = "echo"
	DoNetwork      = "network"
	DoInquiry      = "inquiry"
	DoRepeat       = "repeat"
	DoRaw          = "raw"
	DoExpectClosed = "expect-closed"
	DoConnect      = "connect"
	DoSetSTAN      = "set-stan"
	DoConsent      = "consent"
)

// Expect values other than a response code.
const (
	ExpectNone   = "none"   // no answer at all: an echo sent after it is answered first
	ExpectClosed = "closed" // the gateway closes the connection (no answer)
)

// Load reads a scenario file.
func Load(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	sc.Path = path
	if sc.Cards != "" && !filepath.IsAbs(sc.Cards) {
		sc.Cards = filepath.Join(filepath.Dir(path), sc.Cards)
	}
	return sc, nil
}

// Parse decodes and checks a scenario. Unknown keys are an error.
func Parse(b []byte) (*Scenario, error) {
	sc := &Scenario{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(sc); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := sc.check(); err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *Scenario) check() error {
	if sc.Institution == "" {
		sc.Institution = "700"
	}
	if !isDigits(sc.Institution) || len(sc.Institution) > 11 {
		return fmt.Errorf("institution %q: want 1 to 11 digits", sc.Institution)
	}
	if sc.Terminal == "" {
		s := fmt.Sprintf("%03s", sc.Institution)
		sc.Terminal = "ATM" + s[len(s)-3:] + "01"
	}
	if sc.MACKey != "" {
		k, err := hex.DecodeString(sc.MACKey)
		if err != nil || len(k) != 16 {
			return errors.New("mac_key: want 32 hex digits")
		}
		sc.key = k
	}
	sc.timeout = 5 * time.Second
	if sc.Timeout != "" {
		d, err := time.ParseDuration(sc.Timeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("timeout %q: want a duration like 5s", sc.Timeout)
		}
		sc.timeout = d
	}
	if len(sc.Steps) == 0 {
		return errors.New("no steps")
	}
	for i := range sc.Steps {
		if err := sc.Steps[i].check(); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	return nil
}

func (s *Step) check() error {
	if s.Expect != "" && s.Expect != ExpectNone && s.Expect != ExpectClosed && len(s.Expect) != 2 {
		return fmt.Errorf("expect %q: want a two-character response code, none or closed", s.Expect)
	}
	if s.Repeat < 0 || s.Count < 0 {
		return errors.New("repeat and count must not be negative")
	}
	if s.Repeat == 0 {
		s.Repeat = 1
	}
	if s.Count == 0 {
		s.Count = 1
	}
	switch s.Do {
	case DoSignOn, DoSignOff, DoEcho:
	case DoNetwork:
		if len(s.Code) != 3 || !isDigits(s.Code) {
			return fmt.Errorf("network: code %q: want 3 digits", s.Code)
		}
	case DoInquiry:
		if s.Card == "" {
			return errors.New("inquiry: card (a PAN of the card file) is required")
		}
		if s.Service == "" {
			s.Service = string(sim.Pension)
		}
		if _, err := sim.ParseService(s.Service); err != nil {
			return err
		}
		switch s.MAC {
		case "", "auto", "none", "wrong":
		default:
			return fmt.Errorf("mac %q: want auto, none or wrong", s.MAC)
		}
		if s.MTI != "" && (len(s.MTI) != 4 || !isDigits(s.MTI)) {
			return fmt.Errorf("mti %q: want 4 digits", s.MTI)
		}
		s.set = map[int]string{}
		for k, v := range s.Set {
			de, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(k), "DE"))
			if err != nil || !sim.WireField(de) {
				return fmt.Errorf("set: %q is not a field of the contract", k)
			}
			s.set[de] = v
		}
		for _, de := range s.Unset {
			if !sim.WireField(de) {
				return fmt.Errorf("unset: %d is not a field of the contract", de)
			}
		}
	case DoConsent:
		if s.Card == "" || s.ID == "" || s.Birth == "" {
			return errors.New("consent: card, id and birth are required")
		}
		if _, err := sim.FileUpdateCode(s.Action); err != nil {
			return fmt.Errorf("consent: %w", err)
		}
		if _, err := sim.ServicesCode(s.Services); err != nil {
			return fmt.Errorf("consent: %w", err)
		}
		for _, d := range []string{s.Birth, s.Signed} {
			if _, err := parseDate(d); d != "" && err != nil {
				return fmt.Errorf("consent: date %q: want YYYY-MM-DD", d)
			}
		}
		switch s.MAC {
		case "", "auto", "none", "wrong":
		default:
			return fmt.Errorf("mac %q: want auto, none or wrong", s.MAC)
		}
	case DoRepeat, DoExpectClosed, DoConnect:
	case DoRaw:
		n := 0
		for _, v := range []string{s.Hex, s.Text, s.Framed} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return errors.New("raw: give exactly one of hex, text or framed")
		}
		if _, err := s.rawBytes(); err != nil {
			return err
		}
		if s.Expect == "" {
			return errors.New("raw: expect is required (a response code, or none)")
		}
	case DoSetSTAN:
		if s.STAN == nil || *s.STAN < 0 || *s.STAN > 999999 {
			return errors.New("set-stan: stan (0 to 999999) is required")
		}
	case "":
		return errors.New("do is required")
	default:
		return fmt.Errorf("do %q: want sign-on, sign-off, echo, network, inquiry, consent, repeat, raw, expect-closed, connect or set-stan", s.Do)
	}
	if s.Expect == "" {
		s.Expect = "00"
	}
	return nil
}

// rawBytes is what a raw step writes: framed bytes as given, or a message
// with its length header.
func (s *Step) rawBytes() ([]byte, error) {
	clean := func(h string) string { return strings.Join(strings.Fields(h), "") }
	switch {
	case s.Framed != "":
		b, err := hex.DecodeString(clean(s.Framed))
		if err != nil {
			return nil, fmt.Errorf("raw: framed: %v", err)
		}
		return b, nil
	case s.Hex != "":
		b, err := hex.DecodeString(clean(s.Hex))
		if err != nil {
			return nil, fmt.Errorf("raw: hex: %v", err)
		}
		return frame(b)
	}
	return frame([]byte(s.Text))
}

func frame(b []byte) ([]byte, error) {
	if len(b) > 0xFFFF {
		return nil, errors.New("raw: message over 65535 bytes")
	}
	return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func parseDate(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }
