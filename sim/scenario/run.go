package scenario

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/sim"
	"github.com/bli/atmgw/sim/cards"
)

// Options say where and with what a scenario runs.
type Options struct {
	Gateway  string        // host:port
	Cards    *cards.File   // the cards inquiries use (their ATCs advance in memory)
	Profiles *sim.Profiles // screen and receipt sizes (default sim.DefaultProfiles)
	Out      io.Writer     // a line per step as it completes (nil: none)
	TLS      *tls.Config   // connect with TLS (nil: plain TCP)
}

// Result is a scenario's outcome.
type Result struct {
	Scenario string
	Steps    []StepResult
	Passed   int
	Failed   int
	// ATCs holds the counters of the cards used, after the run, to save
	// back into the card file.
	ATCs map[string]uint16
}

// StepResult is one step (one repetition of a repeated step).
type StepResult struct {
	N      int
	What   string
	OK     bool
	Got    string
	Detail []string
}

// ErrUnreachable wraps a failure to connect for the first step: nothing ran.
var ErrUnreachable = errors.New("gateway unreachable")

type runner struct {
	sc       *Scenario
	o        Options
	conn     *sim.Conn
	chips    map[string]*sim.Chip
	res      *Result
	lastB    []byte
	lastSTAN string
	lastReq  *iso.Message
}

// Run runs a scenario against a gateway. The error is for a run that could
// not start (the gateway unreachable); failed steps are in the Result.
func Run(ctx context.Context, sc *Scenario, o Options) (*Result, error) {
	if o.Profiles == nil {
		o.Profiles, _ = sim.ParseProfiles(sim.DefaultProfiles)
	}
	if o.Cards == nil {
		o.Cards = cards.Demo()
	}
	r := &runner{sc: sc, o: o, chips: map[string]*sim.Chip{},
		res: &Result{Scenario: sc.Name, ATCs: map[string]uint16{}}}
	if err := r.connect(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer func() {
		if r.conn != nil {
			r.conn.Close()
		}
	}()
	for i := range sc.Steps {
		if ctx.Err() != nil {
			return r.res, ctx.Err()
		}
		r.step(ctx, i+1, &sc.Steps[i])
	}
	return r.res, nil
}

func (r *runner) connect(ctx context.Context) error {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	c, err := sim.Dial(ctx, r.o.Gateway, sim.ConnOptions{Institution: r.sc.Institution, MACKey: r.sc.key, TLS: r.o.TLS})
	if err != nil {
		return err
	}
	r.conn = c
	return nil
}

func (r *runner) report(sr StepResult) {
	r.res.Steps = append(r.res.Steps, sr)
	if sr.OK {
		r.res.Passed++
	} else {
		r.res.Failed++
	}
	if r.o.Out == nil {
		return
	}
	mark := "ok  "
	if !sr.OK {
		mark = "FAIL"
	}
	fmt.Fprintf(r.o.Out, "  %s %3d  %s → %s\n", mark, sr.N, sr.What, sr.Got)
	for _, d := range sr.Detail {
		fmt.Fprintf(r.o.Out, "             %s\n", d)
	}
}

func (r *runner) step(ctx context.Context, n int, s *Step) {
	ctx, cancel := context.WithTimeout(ctx, r.sc.timeout)
	defer cancel()
	what := s.Name
	switch s.Do {
	case DoSignOn, DoSignOff, DoEcho, DoNetwork:
		code := map[string]string{DoSignOn: sim.SignOnCode, DoSignOff: sim.SignOffCode, DoEcho: sim.EchoCode}[s.Do]
		if s.Do == DoNetwork {
			code = s.Code
		}
		inst := r.instOf(s)
		if what == "" {
			what = fmt.Sprintf("%s (0800 DE70=%s) as %s", s.Do, code, inst)
		}
		r.network(ctx, n, what, s, code, inst)
	case DoInquiry:
		for i := range s.Repeat {
			w := what
			if s.Repeat > 1 {
				w = fmt.Sprintf("%s [%d/%d]", what, i+1, s.Repeat)
			}
			r.inquiry(ctx, n, w, s)
		}
	case DoConsent:
		r.consent(ctx, n, what, s)
	case DoRepeat:
		if what == "" {
			what = "the previous request again, byte for byte"
		}
		if r.lastB == nil {
			r.report(StepResult{N: n, What: what, Got: "nothing to repeat", Detail: []string{"no request was sent before"}})
			return
		}
		if !r.alive(n, what) {
			return
		}
		r.exchange(ctx, n, what, s, r.lastReq, r.lastB, r.lastSTAN)
	case DoRaw:
		b, _ := s.rawBytes()
		if what == "" {
			what = fmt.Sprintf("raw frame of %d bytes", len(b))
			if s.Count > 1 {
				what += fmt.Sprintf(" ×%d", s.Count)
			}
		}
		if !r.alive(n, what) {
			return
		}
		for range s.Count {
			if err := r.conn.WriteRaw(b); err != nil {
				r.report(StepResult{N: n, What: what, Got: "write failed", Detail: []string{err.Error()}})
				return
			}
		}
		r.await(ctx, n, what, s, nil, nil)
	case DoExpectClosed:
		if what == "" {
			what = "the gateway closes the connection"
		}
		r.expectClosed(ctx, n, what)
	case DoConnect:
		if what == "" {
			what = "a new connection"
		}
		if err := r.connect(ctx); err != nil {
			r.report(StepResult{N: n, What: what, Got: "failed", Detail: []string{err.Error()}})
			return
		}
		r.report(StepResult{N: n, What: what, OK: true, Got: "connected"})
	case DoSetSTAN:
		if what == "" {
			what = fmt.Sprintf("next STANs from %06d", *s.STAN%999999+1)
		}
		if r.conn != nil {
			r.conn.SetSTAN(*s.STAN)
		}
		r.report(StepResult{N: n, What: what, OK: true, Got: "set"})
	}
}

func (r *runner) instOf(s *Step) string {
	if s.Institution != "" {
		return s.Institution
	}
	return r.sc.Institution
}

// alive reports (and fails the step) when there is no open connection.
func (r *runner) alive(n int, what string) bool {
	if r.conn == nil {
		r.report(StepResult{N: n, What: what, Got: "no connection"})
		return false
	}
	select {
	case <-r.conn.Closed():
		r.report(StepResult{N: n, What: what, Got: "connection closed", Detail: []string{"the gateway closed the connection before this step (add a connect step)"}})
		return false
	default:
		return true
	}
}

func (r *runner) network(ctx context.Context, n int, what string, s *Step, code, inst string) {
	if !r.alive(n, what) {
		return
	}
	m := sim.NetworkRequest(code, time.Now())
	m.Institution = inst
	m.STAN = r.conn.NextSTAN()
	b, err := r.conn.Encode(m, sim.MACNone)
	if err != nil {
		r.report(StepResult{N: n, What: what, Got: "cannot encode", Detail: []string{err.Error()}})
		return
	}
	r.exchange(ctx, n, what, s, m, b, m.STAN)
}

func (r *runner) chip(pan string) (*sim.Chip, error) {
	if ch, ok := r.chips[pan]; ok {
		return ch, nil
	}
	c := r.o.Cards.Find(pan)
	if c == nil {
		return nil, fmt.Errorf("card %s is not in the card file", card.MaskPAN(pan))
	}
	ch, err := sim.VirtualChip(c)
	if err != nil {
		return nil, err
	}
	r.chips[pan] = ch
	return ch, nil
}

func (r *runner) inquiry(ctx context.Context, n int, what string, s *Step) {
	svc, _ := sim.ParseService(s.Service)
	ch, err := r.chip(s.Card)
	if what == "" {
		what = fmt.Sprintf("inquiry %s %s", svc, card.MaskPAN(s.Card))
	}
	if err != nil {
		r.report(StepResult{N: n, What: what, Got: "no card", Detail: []string{err.Error()}})
		return
	}
	if s.Replay {
		if err := ch.Replay(); err != nil {
			r.report(StepResult{N: n, What: what, Got: "cannot replay", Detail: []string{err.Error()}})
			return
		}
	}
	use, err := ch.Generate()
	if err != nil {
		r.report(StepResult{N: n, What: what, Got: "card error", Detail: []string{err.Error()}})
		return
	}
	r.res.ATCs[s.Card] = ch.ATC()
	if s.Name == "" {
		what += fmt.Sprintf(" ATC %d", use.ICC.ATC)
		var mods []string
		if s.Replay {
			mods = append(mods, "replayed")
		}
		if s.MAC != "" && s.MAC != "auto" {
			mods = append(mods, "mac "+s.MAC)
		}
		if s.MTI != "" {
			mods = append(mods, "MTI "+s.MTI)
		}
		if s.Institution != "" {
			mods = append(mods, "DE32 "+s.Institution)
		}
		for de, v := range s.set {
			mods = append(mods, fmt.Sprintf("DE%d=%q", de, v))
		}
		for _, de := range s.Unset {
			mods = append(mods, fmt.Sprintf("no DE%d", de))
		}
		if len(mods) > 0 {
			what += " (" + strings.Join(mods, ", ") + ")"
		}
	}
	if !r.alive(n, what) {
		return
	}
	term := sim.Terminal{Institution: r.instOf(s), ID: r.sc.Terminal, Acceptor: sim.DefaultAcceptor}
	if s.Terminal != "" {
		term.ID = s.Terminal
	}
	m := sim.Inquiry(term, svc, use, r.conn.NextSTAN(), time.Now())
	if s.MTI != "" {
		m.MTI = s.MTI
	}
	key := r.conn.MACKey()
	sign := key != nil && m.MTI == iso.MTIFinancialRequest
	wrong := false
	switch s.MAC {
	case "none":
		sign = false
	case "wrong":
		sign, wrong = true, true
		if key == nil {
			key = []byte("0123456789ABCDEF")
		}
	}
	var b []byte
	stan := m.STAN
	if len(s.set) == 0 && len(s.Unset) == 0 {
		mode := sim.MACAuto
		switch {
		case wrong:
			mode = sim.MACWrong
		case !sign:
			mode = sim.MACNone
		}
		b, err = r.conn.Encode(m, mode)
	} else {
		w := sim.WireOf(m)
		for de, v := range s.set {
			w.Fields[de] = v
		}
		for _, de := range s.Unset {
			delete(w.Fields, de)
		}
		stan = w.Fields[11]
		if sign {
			b, err = w.PackSigned(key, wrong)
		} else {
			b = w.Pack()
		}
	}
	if err != nil {
		r.report(StepResult{N: n, What: what, Got: "cannot build the request", Detail: []string{err.Error()}})
		return
	}
	// What the gateway will read, for the echo checks.
	req, _ := iso.Decode(b)
	r.lastB, r.lastSTAN, r.lastReq = b, stan, req
	r.exchange(ctx, n, what, s, req, b, stan)
}

// exchange writes a message and checks the answer against the step.
func (r *runner) exchange(ctx context.Context, n int, what string, s *Step, req *iso.Message, b []byte, stan string) {
	var call *sim.Call
	if stan != "" && s.Expect != ExpectNone && s.Expect != ExpectClosed {
		call = r.conn.Expect(stan)
	}
	if err := r.conn.WriteFrame(b); err != nil {
		if call != nil {
			r.conn.Forget(call)
		}
		r.report(StepResult{N: n, What: what, Got: "write failed", Detail: []string{err.Error()}})
		return
	}
	r.await(ctx, n, what, s, req, call)
}

// await gets the answer of what was just written (through call when its
// STAN is known, else the next answer) and judges it.
func (r *runner) await(ctx context.Context, n int, what string, s *Step, req *iso.Message, call *sim.Call) {
	switch s.Expect {
	case ExpectNone:
		r.noAnswer(ctx, n, what)
		return
	case ExpectClosed:
		r.expectClosed(ctx, n, what)
		return
	}
	sent := time.Now()
	var resp *sim.Response
	var err error
	if call != nil {
		resp, err = r.conn.Wait(ctx, call)
	} else {
		resp, err = r.conn.Next(ctx)
	}
	if err != nil {
		r.report(StepResult{N: n, What: what, Got: "no answer", Detail: []string{err.Error()}})
		return
	}
	m := resp.Msg
	sr := StepResult{N: n, What: what, Got: fmt.Sprintf("%s %s", m.ResponseCode, iso.Describe(m.ResponseCode))}
	if m.ResponseCode == "" {
		sr.Got = fmt.Sprintf("MTI %s without a response code", m.MTI)
	}
	if resp.DecodeErr != nil {
		sr.Detail = append(sr.Detail, "the answer does not decode cleanly: "+resp.DecodeErr.Error())
	}
	if m.ResponseCode != s.Expect {
		sr.Detail = append(sr.Detail, fmt.Sprintf("want %s %s", s.Expect, iso.Describe(s.Expect)))
	}
	if req != nil && req.MTI != "" {
		if want, ok := iso.ResponseMTI(req.MTI); ok && m.MTI != want {
			sr.Detail = append(sr.Detail, fmt.Sprintf("answer MTI %s, want %s", m.MTI, want))
		}
	}
	if m.MTI == iso.MTIFinancialResponse && req != nil {
		pair, havePair := r.o.Profiles.Lookup(req.Institution, req.TerminalID)
		o := sim.Examine(req, resp, pair, havePair)
		o.Latency = resp.At.Sub(sent)
		if r.sc.CheckLayout == nil || *r.sc.CheckLayout {
			sr.Detail = append(sr.Detail, o.Problems...)
		}
		if s.Rows != nil {
			switch {
			case o.Statement == nil:
				sr.Detail = append(sr.Detail, fmt.Sprintf("want %d DE62 rows, there is no statement", *s.Rows))
			case len(o.Statement.Rows) != *s.Rows:
				sr.Detail = append(sr.Detail, fmt.Sprintf("%d DE62 rows, want %d", len(o.Statement.Rows), *s.Rows))
			}
		}
		if s.Screen != "" && !strings.Contains(sim.DecodeBig5(m.Screen), s.Screen) {
			sr.Detail = append(sr.Detail, fmt.Sprintf("the screen does not say %q: %q", s.Screen, sim.DecodeBig5(m.Screen)))
		}
	} else if m.MTI == iso.MTIFileUpdateResp && req != nil {
		if resp.MACErr != nil {
			sr.Detail = append(sr.Detail, resp.MACErr.Error())
		}
		if m.STAN != req.STAN || m.PAN != req.PAN || m.FileUpdateCode != req.FileUpdateCode || m.FileName != req.FileName {
			sr.Detail = append(sr.Detail, "the 0312 does not echo DE2, DE11, DE91 and DE101")
		}
	} else if m.MTI == iso.MTINetworkResponse && req != nil {
		if m.NetworkCode != req.NetworkCode || m.STAN != req.STAN || m.TransmissionTime != req.TransmissionTime {
			sr.Detail = append(sr.Detail, "the 0810 does not echo DE7, DE11 and DE70")
		}
	}
	sr.OK = len(sr.Detail) == 0
	r.report(sr)
}

// noAnswer checks that what was just written gets no answer: an echo sent
// after it is answered, and nothing came before the echo's answer.
func (r *runner) noAnswer(ctx context.Context, n int, what string) {
	sr := StepResult{N: n, What: what, Got: "no answer"}
	m := sim.NetworkRequest(sim.EchoCode, time.Now())
	m.Institution = r.sc.Institution
	m.STAN = r.conn.NextSTAN()
	b, err := r.conn.Encode(m, sim.MACNone)
	if err == nil {
		var resp *sim.Response
		resp, err = r.conn.Exchange(ctx, m.STAN, b)
		if err == nil && resp.Msg.ResponseCode != "00" {
			err = fmt.Errorf("the echo was answered %s", resp.Msg.ResponseCode)
		}
	}
	if err != nil {
		sr.Got = "echo after it failed"
		sr.Detail = append(sr.Detail, "the echo sent to prove no answer came: "+err.Error())
		r.report(sr)
		return
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if got, _ := r.conn.Next(done); got != nil {
		sr.Got = fmt.Sprintf("answered %s %s", got.Msg.MTI, got.Msg.ResponseCode)
		sr.Detail = append(sr.Detail, "want no answer at all")
		r.report(sr)
		return
	}
	sr.OK = true
	sr.Got = "no answer (an echo after it was answered)"
	r.report(sr)
}

func (r *runner) expectClosed(ctx context.Context, n int, what string) {
	if r.conn == nil {
		r.report(StepResult{N: n, What: what, Got: "no connection"})
		return
	}
	select {
	case <-r.conn.Closed():
		r.report(StepResult{N: n, What: what, OK: true, Got: "closed"})
	case <-ctx.Done():
		r.report(StepResult{N: n, What: what, Got: "still open", Detail: []string{"the gateway did not close the connection within the step timeout"}})
	}
}

// consent sends an 0302: a consent registered, replaced or revoked online.
func (r *runner) consent(ctx context.Context, n int, what string, s *Step) {
	if what == "" {
		what = fmt.Sprintf("consent %s %s", s.Action, card.MaskPAN(s.Card))
		if s.MAC != "" && s.MAC != "auto" {
			what += " (mac " + s.MAC + ")"
		}
	}
	if !r.alive(n, what) {
		return
	}
	birth, _ := parseDate(s.Birth)
	signed := time.Now().In(time.FixedZone("CST", 8*3600))
	if s.Signed != "" {
		signed, _ = parseDate(s.Signed)
	}
	inst := r.instOf(s)
	term := sim.Terminal{Institution: inst, ID: sim.ConsentTerminal(r.sc.Institution)}
	if s.Terminal != "" {
		term.ID = s.Terminal
	}
	m, err := sim.FileUpdate(term, sim.Consent{Action: s.Action, PAN: s.Card, NationalID: s.ID, Name: s.Holder,
		Birth: birth, Services: s.Services, Signed: signed}, r.conn.NextSTAN(), time.Now())
	if err == nil {
		if s.FileCode != "" {
			m.FileUpdateCode = s.FileCode
		}
		if s.File != "" {
			m.FileName = s.File
		}
	}
	var b []byte
	if err == nil {
		mode := sim.MACAuto
		switch s.MAC {
		case "none":
			mode = sim.MACNone
		case "wrong":
			mode = sim.MACWrong
		}
		b, err = r.conn.Encode(m, mode)
	}
	if err != nil {
		r.report(StepResult{N: n, What: what, Got: "cannot build the request", Detail: []string{err.Error()}})
		return
	}
	req, _ := iso.Decode(b)
	r.lastB, r.lastSTAN, r.lastReq = b, m.STAN, req
	r.exchange(ctx, n, what, s, req, b, m.STAN)
}
