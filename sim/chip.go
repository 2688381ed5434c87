package sim

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/sim/applet"
	"github.com/bli/atmgw/sim/cards"
)

// Chip is a chip card in a simulated ATM's reader: a virtual card of a card
// file (through the applet, in process) or, with another Transport, a real
// or vpcd card. Like a card, it is for one goroutine at a time.
type Chip struct {
	term    applet.Terminal
	virtual *applet.Card // nil for a card behind another transport
	info    applet.Info
}

// Use is one use of the card: what it said and the DE55 it makes.
type Use struct {
	Info applet.Info
	ICC  card.ICC // 9F26, 9F27, 9F36, 9F37 and 5F34
	DE55 []byte
}

// VirtualChip inserts a card of a card file: an applet card personalised
// from it, reached in process. The card's ATC starts at the file's.
func VirtualChip(c *cards.Card) (*Chip, error) {
	key, err := c.KeyBytes()
	if err != nil {
		return nil, err
	}
	vc := &applet.Card{PAN: c.PAN, Expiry: c.Expiry, Sequence: c.Sequence, Key: key, ATC: c.ATC}
	ch, err := NewChip(applet.LocalTransport(vc))
	if err != nil {
		return nil, err
	}
	ch.virtual = vc
	return ch, nil
}

// NewChip reads the card behind a transport (SELECT, READ RECORD).
func NewChip(t applet.Transport) (*Chip, error) {
	ch := &Chip{term: applet.Terminal{T: t}}
	info, err := ch.term.ReadCard()
	if err != nil {
		return nil, fmt.Errorf("reading the card: %w", err)
	}
	ch.info = info
	return ch, nil
}

// Info is what the card's record says (PAN, expiry, sequence number).
func (ch *Chip) Info() applet.Info { return ch.info }

// ATC is the virtual card's counter of its last use (0 for other cards).
func (ch *Chip) ATC() uint16 {
	if ch.virtual == nil {
		return 0
	}
	return ch.virtual.ATC
}

// ErrNeverUsed is returned by Replay for a card whose ATC is still 0: there
// is no old counter to send again.
var ErrNeverUsed = errors.New("the card was never used: there is no old ATC to replay (make one inquiry first)")

// Replay winds a virtual card's counter back by one, so that its next use
// sends the ATC of its last use again: what a cloned card would do. The
// gateway should refuse it (63).
func (ch *Chip) Replay() error {
	if ch.virtual == nil {
		return errors.New("only a virtual card can replay an old ATC")
	}
	if ch.virtual.ATC == 0 {
		return ErrNeverUsed
	}
	ch.virtual.ATC--
	return nil
}

// Generate asks the card for an ARQC over a fresh unpredictable number and
// builds DE55 from the answer (9F26, 9F27, 9F36, 9F37 and, when the card
// has a sequence number, 5F34).
func (ch *Chip) Generate() (Use, error) {
	var un [4]byte
	if _, err := rand.Read(un[:]); err != nil {
		return Use{}, err
	}
	return ch.GenerateWith(un)
}

// GenerateWith is Generate with a given unpredictable number.
func (ch *Chip) GenerateWith(un [4]byte) (Use, error) {
	ac, err := ch.term.GenerateAC(un)
	if err != nil {
		return Use{}, fmt.Errorf("GENERATE AC: %w", err)
	}
	icc := card.ICC{
		Cryptogram:     ac.Cryptogram,
		CID:            ac.CID,
		ATC:            ac.ATC,
		Unpredictable:  un,
		PANSequence:    ch.info.Sequence,
		HasPANSequence: true,
	}
	return Use{Info: ch.info, ICC: icc, DE55: card.BuildICC(icc)}, nil
}
