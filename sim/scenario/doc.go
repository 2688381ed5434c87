// Package scenario runs scripted conversations with a gateway: sign-on,
// inquiries with the response codes they should get, echo, sign-off,
// tampered and malformed frames, and reports each step passed or failed.
// `atmsim script FILE` runs a file; sim/scenarios/ holds one per decision
// of docs/interface.md, section 5.
//
// A scenario is YAML:
//
//	name: MAC missing or wrong
//	institution: "812"                          # DE32 (default 700)
//	terminal: ATM81201                          # DE41 (default ATM<inst>01)
//	mac_key: 0123456789ABCDEFFEDCBA9876543210   # the partner's key (DE64)
//	steps:
//	  - do: sign-on
//	    expect: "00"
//	  - do: inquiry
//	    card: "4700123456789014"
//	    service: pension
//	    mac: none                               # auto (default), none, wrong
//	    expect: "63"
//
// See docs/simulator.md for every step and key.
package scenario
