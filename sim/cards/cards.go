package cards

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bli/atmgw/card"
)

// Demo is the card file of the embedded demo ledger (demo.json).
//
//go:embed demo.json
var demoJSON []byte

// Demo returns a fresh copy of the demo card file.
func Demo() *File {
	f, err := Parse(demoJSON)
	if err != nil {
		panic("cards: embedded demo.json: " + err.Error()) // a build defect, caught by the tests
	}
	return f
}

// Services that a card's Expect map may name.
const (
	Pension   = "pension"
	Insurance = "insurance"
)

// Card is one virtual chip card.
type Card struct {
	PAN      string `json:"pan"`
	Expiry   string `json:"expiry"`   // YYMM
	Sequence int    `json:"sequence"` // PAN sequence number 0-99 (DE23, 5F34)
	Key      string `json:"key"`      // the card's 16-byte DES key, 32 hex digits
	ATC      uint16 `json:"atc"`      // application transaction counter of the last use (0: never used)

	// Institutions that the card is meant for (DE32); the first is the
	// default of `atmsim inquiry`. Empty: any.
	Institutions []string `json:"institutions,omitempty"`
	// Expect is the response code the gateway should answer for this card,
	// per service (rate limit off). Informative for people; `atmsim load`
	// counts answers that differ.
	Expect *Expect `json:"expect,omitempty"`
	Note   string  `json:"note,omitempty"`
}

// Expect holds the expected response code of each service ("" unknown).
type Expect struct {
	Insurance string `json:"insurance,omitempty"`
	Pension   string `json:"pension,omitempty"`
}

// Expected returns the response code expected for a service ("pension",
// "insurance"), "" when the file does not say.
func (c *Card) Expected(service string) string {
	if c.Expect == nil {
		return ""
	}
	switch service {
	case Pension:
		return c.Expect.Pension
	case Insurance:
		return c.Expect.Insurance
	}
	return ""
}

// KeyBytes decodes the card key.
func (c *Card) KeyBytes() ([]byte, error) {
	k, err := hex.DecodeString(c.Key)
	if err != nil || len(k) != 16 {
		return nil, fmt.Errorf("card %s: key must be 32 hex digits (16 bytes)", card.MaskPAN(c.PAN))
	}
	return k, nil
}

// Validate checks the fields a card needs to be used. Errors show the PAN
// masked.
func (c *Card) Validate() error {
	if len(c.PAN) < 8 || len(c.PAN) > 19 || !digits(c.PAN) {
		return fmt.Errorf("card %s: pan must be 8 to 19 digits", card.MaskPAN(c.PAN))
	}
	if len(c.Expiry) != 4 || !digits(c.Expiry) || c.Expiry[2:] < "01" || c.Expiry[2:] > "12" {
		return fmt.Errorf("card %s: expiry %q is not YYMM", card.MaskPAN(c.PAN), c.Expiry)
	}
	if c.Sequence < 0 || c.Sequence > 99 {
		return fmt.Errorf("card %s: sequence %d is not 0 to 99", card.MaskPAN(c.PAN), c.Sequence)
	}
	if _, err := c.KeyBytes(); err != nil {
		return err
	}
	for _, in := range c.Institutions {
		if in == "" || len(in) > 11 || !digits(in) {
			return fmt.Errorf("card %s: institution %q is not 1 to 11 digits", card.MaskPAN(c.PAN), in)
		}
	}
	for _, svc := range []string{Pension, Insurance} {
		if rc := c.Expected(svc); rc != "" && len(rc) != 2 {
			return fmt.Errorf("card %s: expect.%s: %q is not a two-character response code", card.MaskPAN(c.PAN), svc, rc)
		}
	}
	return nil
}

// For reports whether the card is meant for an institution (a card that
// lists none is meant for any).
func (c *Card) For(institution string) bool {
	if len(c.Institutions) == 0 {
		return true
	}
	for _, in := range c.Institutions {
		if in == institution {
			return true
		}
	}
	return false
}

// File is a whole card file.
type File struct {
	Cards []Card `json:"cards"`
}

// Find returns the card with a PAN, or nil.
func (f *File) Find(pan string) *Card {
	for i := range f.Cards {
		if f.Cards[i].PAN == pan {
			return &f.Cards[i]
		}
	}
	return nil
}

// Parse decodes and validates a card file. Unknown keys are an error.
func Parse(b []byte) (*File, error) {
	f := &File{}
	if err := Scan(bytes.NewReader(b), func(c Card) error {
		f.Cards = append(f.Cards, c)
		return nil
	}); err != nil {
		return nil, err
	}
	return f, nil
}

// Load reads a card file.
func Load(path string) (*File, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("card file: %w", err)
	}
	defer r.Close()
	f := &File{}
	if err := Scan(r, func(c Card) error {
		f.Cards = append(f.Cards, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("card file %s: %w", path, err)
	}
	return f, nil
}

// Scan reads a card file card by card, validating each, and calls fn for
// each in file order; an error of fn stops the scan and is returned. A PAN
// present twice is an error (a card's ATC must have one home).
func Scan(r io.Reader, fn func(Card) error) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.DisallowUnknownFields()
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	seen := map[string]struct{}{}
	sawCards := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		if key, _ := t.(string); key != "cards" {
			return fmt.Errorf("unknown key %q at the top level (want \"cards\")", t)
		}
		sawCards = true
		if err := expectDelim(dec, '['); err != nil {
			return err
		}
		for n := 1; dec.More(); n++ {
			var c Card
			if err := dec.Decode(&c); err != nil {
				return fmt.Errorf("card %d: %w", n, syntaxError(err))
			}
			if err := c.Validate(); err != nil {
				return fmt.Errorf("card %d: %w", n, err)
			}
			if _, dup := seen[c.PAN]; dup {
				return fmt.Errorf("card %d: %s is listed twice", n, card.MaskPAN(c.PAN))
			}
			seen[c.PAN] = struct{}{}
			if err := fn(c); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if !sawCards {
		return errors.New(`no "cards" list`)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("not a card file: want %q, found %v", want, t)
	}
	return nil
}

func syntaxError(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("unexpected end of file")
	}
	return err
}

// Writer writes a card file one card at a time.
type Writer struct {
	w   *bufio.Writer
	n   int
	err error
}

// NewWriter starts a card file on w.
func NewWriter(w io.Writer) *Writer {
	cw := &Writer{w: bufio.NewWriterSize(w, 1<<16)}
	_, cw.err = cw.w.WriteString("{\"cards\": [\n")
	return cw
}

// Write adds a card.
func (cw *Writer) Write(c *Card) error {
	if cw.err != nil {
		return cw.err
	}
	b, err := json.Marshal(c)
	if err != nil {
		cw.err = err
		return err
	}
	if cw.n > 0 {
		cw.w.WriteString(",\n")
	}
	cw.n++
	_, cw.err = cw.w.Write(b)
	return cw.err
}

// Close ends the file and flushes it (it does not close the underlying writer).
func (cw *Writer) Close() error {
	if cw.err != nil {
		return cw.err
	}
	if cw.n > 0 {
		cw.w.WriteString("\n")
	}
	cw.w.WriteString("]}\n")
	cw.err = cw.w.Flush()
	return cw.err
}

// Save writes the file to path atomically: a temporary file beside it,
// synced, then renamed over it.
func (f *File) Save(path string) error {
	return WriteAtomic(path, func(w io.Writer) error {
		cw := NewWriter(w)
		for i := range f.Cards {
			if err := cw.Write(&f.Cards[i]); err != nil {
				return err
			}
		}
		return cw.Close()
	})
}

// UpdateATCs rewrites the card file at path, atomically and streaming
// (bounded memory), with the ATCs of the map (PAN → ATC). A card's ATC never
// goes down. It returns how many cards changed.
func UpdateATCs(path string, atcs map[string]uint16) (int, error) {
	if len(atcs) == 0 {
		return 0, nil
	}
	in, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("card file: %w", err)
	}
	defer in.Close()
	changed := 0
	err = WriteAtomic(path, func(w io.Writer) error {
		cw := NewWriter(w)
		if err := Scan(in, func(c Card) error {
			if atc, ok := atcs[c.PAN]; ok && atc > c.ATC {
				c.ATC = atc
				changed++
			}
			return cw.Write(&c)
		}); err != nil {
			return err
		}
		return cw.Close()
	})
	if err != nil {
		return 0, fmt.Errorf("card file %s: %w", path, err)
	}
	return changed, nil
}

// WriteAtomic writes a file through fn into a temporary file in the same
// directory and renames it over path once complete, so that a reader (or a
// crash) never sees half a file. The file keeps the mode of the file it
// replaces (0644 for a new one).
func WriteAtomic(path string, fn func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = fn(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
