// Package sim is the ATM simulator: what a partner bank's ATM switch does,
// over TCP, with no knowledge of the gateway's insides. It holds the
// partner client (Conn: framing, sign-on, STAN matching, MAC), the virtual
// chip card use that makes DE55 (through sim/applet), the inquiry request,
// and the rendering of what the ATM shows: the screen (DE61) and receipt
// (DE63) drawn in a frame of the terminal's profile, the statement rows
// (DE62) and totals (DE54).
//
// Subpackages: sim/cards (card files), sim/scenario (scripted runs),
// sim/load (load generation and its report), sim/gen (load-file generator).
// cmd/atmsim is the command line.
package sim
