// Command atmsim is the ATM simulator: it talks to the gateway over TCP as
// a partner bank's ATM switch does.
//
//	atmsim inquiry [flags]        one pension or insurance inquiry with a virtual chip card
//	atmsim script  [flags] FILE   run a scenario file, step by step
//	atmsim load    [flags]        many connections, many inquiries: throughput and latency
//	atmsim gen     [flags]        generate load files for `atmgw load` and their card file
//
// See docs/simulator.md.
package main
