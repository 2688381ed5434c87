package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bli/atmgw/sim"
	"github.com/bli/atmgw/sim/cards"
	"github.com/bli/atmgw/sim/scenario"
)

func script(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("script", stdout, "[flags] FILE...")
	gateway := fs.String("gateway", "127.0.0.1:8583", "gateway `host:port`")
	cardFile := fs.String("card-file", defaultCardFile, "card `file` for scenarios that name none (created from the demo cards when missing); ATCs are saved back")
	noSave := fs.Bool("no-save", false, "do not write the cards' ATCs back to the card file")
	profiles := fs.String("profiles", sim.DefaultProfiles, "screen/receipt `profiles`: INST=COLSxLINES/COLSxLINES[,INST:PREFIX=...]")
	tlsf := addTLSFlags(fs)
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	tlsConf, err := tlsf.config()
	if err != nil {
		return usageErr("%v", err)
	}
	if fs.NArg() == 0 {
		return usageErr("give a scenario FILE (see sim/scenarios/)")
	}
	book, err := sim.ParseProfiles(*profiles)
	if err != nil {
		return usageErr("--profiles: %v", err)
	}
	// Parse every file first: a typo in the third should not cost a run.
	var scs []*scenario.Scenario
	for _, path := range fs.Args() {
		sc, err := scenario.Load(path)
		if err != nil {
			return usageErr("%v", err)
		}
		scs = append(scs, sc)
	}
	if !flagSet(fs, "card-file") {
		if _, err := os.Stat(*cardFile); errors.Is(err, os.ErrNotExist) {
			if err := cards.Demo().Save(*cardFile); err != nil {
				return usageErr("creating %s: %v", *cardFile, err)
			}
			fmt.Fprintf(stderr, "atmsim: created %s from the demo cards (it keeps their ATCs)\n", *cardFile)
		}
	}
	failed, steps := 0, 0
	for _, sc := range scs {
		path := *cardFile
		if sc.Cards != "" {
			path = sc.Cards
		}
		file, err := cards.Load(path)
		if err != nil {
			return usageErr("%v", err)
		}
		fmt.Fprintf(stdout, "scenario %s: %s (institution %s, terminal %s)\n", sc.Path, sc.Name, sc.Institution, sc.Terminal)
		res, err := scenario.Run(ctx, sc, scenario.Options{Gateway: *gateway, Cards: file, Profiles: book, Out: stdout, TLS: tlsConf})
		if res != nil && !*noSave {
			if _, serr := cards.UpdateATCs(path, res.ATCs); serr != nil {
				return fail(exitFailed, "saving the ATCs: %v", serr)
			}
		}
		if err != nil {
			if errors.Is(err, scenario.ErrUnreachable) {
				return fail(exitUnreachable, "%v", err)
			}
			return fail(exitFailed, "%v", err)
		}
		fmt.Fprintf(stdout, "  %d steps: %d passed, %d failed\n", len(res.Steps), res.Passed, res.Failed)
		failed += res.Failed
		steps += len(res.Steps)
	}
	if len(scs) > 1 {
		fmt.Fprintf(stdout, "%d scenarios, %d steps: %d passed, %d failed\n", len(scs), steps, steps-failed, failed)
	}
	if failed > 0 {
		return fail(exitDeclined, "%d step(s) failed", failed)
	}
	return nil
}
