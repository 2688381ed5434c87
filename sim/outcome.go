package sim

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
)

// Outcome is an inquiry's answer as the ATM reads it, checked against the
// contract.
type Outcome struct {
	Request  *iso.Message
	Response *Response
	Latency  time.Duration
	Pair     Pair
	HavePair bool // false: no profile known for the terminal (layout not checked)

	Screen, Receipt Layout
	Statement       *Statement
	Amounts         []Amount
	// Problems lists every way the answer breaks the contract (missing or
	// unexpected fields, fields not echoed, layout, MAC, DE62/DE54).
	Problems []string
}

// Code is the answer's response code.
func (o *Outcome) Code() string { return o.Response.Msg.ResponseCode }

// Examine reads and checks an inquiry's answer.
func Examine(req *iso.Message, r *Response, pair Pair, havePair bool) *Outcome {
	o := &Outcome{Request: req, Response: r, Pair: pair, HavePair: havePair}
	m := r.Msg
	bad := func(format string, args ...any) { o.Problems = append(o.Problems, fmt.Sprintf(format, args...)) }
	if r.DecodeErr != nil {
		bad("the answer does not decode cleanly: %v", r.DecodeErr)
	}
	if r.MACErr != nil {
		bad("%v", r.MACErr)
	}
	if want, _ := iso.ResponseMTI(req.MTI); m.MTI != want {
		bad("MTI %s, want %s", m.MTI, want)
	}
	if m.ResponseCode == "" {
		bad("no response code (DE39)")
	}
	for _, e := range CheckEcho(req, m) {
		bad("%s", e)
	}
	if !havePair {
		pair = Pair{Screen: Profile{Columns: 999, Lines: 999}, Receipt: Profile{Columns: 999, Lines: 999}}
	}
	if len(m.Screen) == 0 {
		bad("no screen text (DE61): every 0210 carries one")
	}
	o.Screen = CheckLayout(m.Screen, pair.Screen)
	for _, p := range o.Screen.Problems {
		bad("screen (DE61): %s", p)
	}
	o.Receipt = CheckLayout(m.Receipt, pair.Receipt)
	for _, p := range o.Receipt.Problems {
		bad("receipt (DE63): %s", p)
	}
	pension := iso.ServiceOf(req.ProcessingCode) == card.ServicePension
	if m.ResponseCode != "00" {
		if len(m.Statement) > 0 || len(m.Receipt) > 0 || m.AdditionalAmounts != "" || m.AuthID != "" {
			bad("a decline carries DE38, DE54, DE62 or DE63 (only an approval does)")
		}
		return o
	}
	if m.AuthID == "" {
		bad("approved without an authorization id (DE38)")
	}
	if len(m.Receipt) == 0 {
		bad("approved without a receipt (DE63)")
	}
	if len(m.Statement) == 0 {
		bad("approved without statement data (DE62)")
	} else {
		st, err := ParseStatement(m.Statement)
		if err != nil {
			bad("%v", err)
		} else {
			o.Statement = st
			if want := map[bool]byte{true: 'P', false: 'I'}[pension]; st.Service != want {
				bad("DE62 is for service %q, the request asked for %q", st.Service, want)
			}
		}
	}
	switch {
	case pension && m.AdditionalAmounts == "":
		bad("approved pension inquiry without totals (DE54)")
	case pension:
		a, err := ParseAmounts(m.AdditionalAmounts)
		if err != nil {
			bad("%v", err)
			break
		}
		o.Amounts = a
		if len(a) != 2 || a[0].Type != "90" || a[1].Type != "91" || a[0].Currency != "901" || a[1].Currency != "901" {
			bad("DE54 should hold amount types 90 then 91 in currency 901")
		} else if st := o.Statement; st != nil && (a[0].Value != st.Contributions || a[1].Value != st.Earnings) {
			bad("DE54 totals (%d, %d) differ from DE62's (%d, %d)", a[0].Value, a[1].Value, st.Contributions, st.Earnings)
		}
	case m.AdditionalAmounts != "":
		bad("an insurance answer carries DE54 (only pension does)")
	}
	return o
}

// Write prints the outcome as the machine would show it: the response code
// in words, the screen and receipt in frames of the profile's size, the
// statement rows and totals, and any problem found.
func (o *Outcome) Write(w io.Writer) {
	m := o.Response.Msg
	var b strings.Builder
	fmt.Fprintf(&b, "response    %s %s", m.ResponseCode, iso.Describe(m.ResponseCode))
	if m.AuthID != "" {
		fmt.Fprintf(&b, "  (authorization %s)", m.AuthID)
	}
	fmt.Fprintf(&b, "  in %s\n", o.Latency.Round(10*time.Microsecond))
	fmt.Fprintf(&b, "card        %s  DE11 %s  DE37 %s\n", card.MaskPAN(o.Request.PAN), o.Request.STAN, o.Request.RRN)
	pair := o.Pair
	if !o.HavePair {
		pair = Pair{Screen: fit(o.Screen), Receipt: fit(o.Receipt)}
		b.WriteString("(no profile for this terminal: frames drawn to the text's size)\n")
	}
	b.WriteString(Frame("screen DE61", m.Screen, pair.Screen))
	if len(m.Receipt) > 0 {
		b.WriteString(Frame("receipt DE63", m.Receipt, pair.Receipt))
	}
	if st := o.Statement; st != nil {
		writeStatement(&b, st)
	}
	if len(o.Amounts) > 0 {
		b.WriteString("totals (DE54):")
		for _, a := range o.Amounts {
			name := "amount type " + a.Type
			switch a.Type {
			case "90":
				name = "cumulative contributions 累計提繳金額"
			case "91":
				name = "cumulative earnings 累計運用收益金額"
			}
			fmt.Fprintf(&b, "  %s %s", name, FormatTWD(a.Value))
		}
		b.WriteString("\n")
	}
	for _, p := range o.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	io.WriteString(w, b.String())
}

func fit(l Layout) Profile {
	p := Profile{Columns: 1, Lines: max(1, len(l.Lines))}
	for _, w := range l.Widths {
		p.Columns = max(p.Columns, w)
	}
	return p
}

func writeStatement(b *strings.Builder, st *Statement) {
	svc := "pension 勞退"
	if st.Service == 'I' {
		svc = "insurance 勞保"
	}
	fmt.Fprintf(b, "statement (DE62): %s, as of %s (ROC), %d row(s)\n", svc, st.AsOf, len(st.Rows))
	for _, r := range st.Rows {
		unit := r.Unit
		amount := fmt.Sprintf("%12s", FormatTWD(r.Amount))
		if st.Service == 'I' {
			amount = "insured salary " + amount
		}
		fmt.Fprintf(b, "  %-7s %s %s %s %s\n", r.When, r.Kind, padCols(KindName(r.Kind), 8), padCols(unit, 40), amount)
	}
	if st.Service == 'P' {
		fmt.Fprintf(b, "  trailer: contributions %s, earnings %s\n", FormatTWD(st.Contributions), FormatTWD(st.Earnings))
	} else {
		fmt.Fprintf(b, "  trailer: insured seniority %d years %d days 勞保總年資\n", st.SeniorityYears, st.SeniorityDays)
	}
}

// padCols pads s with spaces to n columns (a Chinese character takes two).
func padCols(s string, n int) string {
	w, _, _ := big5Width(EncodeBig5(s))
	if w >= n {
		return s
	}
	return s + strings.Repeat(" ", n-w)
}
