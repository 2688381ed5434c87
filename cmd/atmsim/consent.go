package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/sim"
)

// consentCmd registers, replaces or revokes a consent online: sign on,
// one 0302, its 0312 (docs/interface.md section 11).
func consentCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("consent", stdout, "add|replace|revoke [flags]")
	gateway := fs.String("gateway", "127.0.0.1:8583", "gateway `host:port`")
	institution := fs.String("institution", "700", "institution code (DE32) to sign on as and register at")
	terminal := fs.String("terminal", "", "counter terminal id (DE41, 8 characters; default CTR<inst>01)")
	pan := fs.String("pan", "", "card number (DE2), 1 to 19 digits (required)")
	id := fs.String("id", "", "national ID on the form, 10 characters (required)")
	name := fs.String("name", "", "name on the form (required for add and replace; sent in Big5)")
	birth := fs.String("birth", "", "date of birth, YYYY-MM-DD (required)")
	services := fs.String("services", "both", "services consented: pension, insurance or both")
	signed := fs.String("signed", "", "date the form (or the revocation) was signed, YYYY-MM-DD (default today, Taiwan time)")
	macKey := fs.String("mac-key", "", "partner MAC key, 32 hex digits: the 0302 carries DE128 and the 0312's is checked")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for the connection, the sign-on and the answer")
	tlsf := addTLSFlags(fs)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parse(fs, args, -1); err != nil {
			return err
		}
		return usageErr("missing the action: add, replace or revoke (see -h)")
	}
	action := args[0]
	if err := parse(fs, args[1:], 0); err != nil {
		return err
	}
	if _, err := sim.FileUpdateCode(action); err != nil {
		return usageErr("%v", err)
	}
	tlsConf, err := tlsf.config()
	if err != nil {
		return usageErr("%v", err)
	}
	key, err := parseKey(*macKey)
	if err != nil {
		return usageErr("--mac-key: %v", err)
	}
	switch {
	case !digits(*institution, 1, 11):
		return usageErr("--institution %q: want 1 to 11 digits", *institution)
	case !digits(*pan, 1, 19):
		return usageErr("--pan: want 1 to 19 digits")
	case len(*id) != 10:
		return usageErr("--id: a national ID is 10 characters")
	case *name == "" && action != "revoke":
		return usageErr("--name is required to %s a consent", action)
	case *timeout <= 0:
		return usageErr("--timeout must be positive")
	}
	if _, err := sim.ServicesCode(*services); err != nil {
		return usageErr("--services: %v", err)
	}
	bd, err := time.Parse(time.DateOnly, *birth)
	if err != nil {
		return usageErr("--birth %q: want YYYY-MM-DD", *birth)
	}
	sd := time.Now().In(time.FixedZone("CST", 8*3600))
	if *signed != "" {
		if sd, err = time.Parse(time.DateOnly, *signed); err != nil {
			return usageErr("--signed %q: want YYYY-MM-DD", *signed)
		}
	}
	term := *terminal
	if term == "" {
		term = sim.ConsentTerminal(*institution)
	}
	if len(term) != 8 {
		return usageErr("--terminal %q: a terminal id is 8 characters", term)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn, code, err := signOn(ctx, *gateway, sim.ConnOptions{Institution: *institution, MACKey: key, TLS: tlsConf})
	if err != nil {
		return fail(code, "%v", err)
	}
	defer conn.Close()
	c := sim.Consent{Action: action, PAN: *pan, NationalID: *id, Name: *name, Birth: bd, Services: *services, Signed: sd}
	req, err := sim.FileUpdate(sim.Terminal{Institution: *institution, ID: term}, c, conn.NextSTAN(), time.Now())
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintf(stdout, "atmsim consent: %s as institution %s, terminal %s: %s card %s, signed %s\n",
		*gateway, *institution, term, action, card.MaskPAN(*pan), sd.Format(time.DateOnly))
	resp, err := conn.Do(ctx, req)
	if err != nil {
		return fail(exitUnreachable, "%v", err)
	}
	m := resp.Msg
	fmt.Fprintf(stdout, "  0312 DE39 %s %s\n", m.ResponseCode, iso.Describe(m.ResponseCode))

	soCtx, soCancel := context.WithTimeout(ctx, 2*time.Second)
	conn.Network(soCtx, sim.SignOffCode)
	soCancel()

	var problems []string
	if resp.DecodeErr != nil {
		problems = append(problems, "the answer does not decode cleanly: "+resp.DecodeErr.Error())
	}
	if resp.MACErr != nil {
		problems = append(problems, resp.MACErr.Error())
	}
	if m.MTI != iso.MTIFileUpdateResp {
		problems = append(problems, "answer MTI "+m.MTI+", want 0312")
	}
	if m.STAN != req.STAN || m.FileUpdateCode != req.FileUpdateCode || m.FileName != req.FileName || m.PAN != req.PAN {
		problems = append(problems, "the 0312 does not echo DE2, DE11, DE91 and DE101")
	}
	switch {
	case len(problems) > 0:
		return fail(exitProtocol, "the answer breaks the contract: %s", strings.Join(problems, "; "))
	case m.ResponseCode != iso.RCApproved:
		return fail(exitDeclined, "declined: %s %s", m.ResponseCode, iso.Describe(m.ResponseCode))
	}
	return nil
}
