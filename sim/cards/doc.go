// Package cards is the simulator's card file: the virtual chip cards a
// simulated ATM inserts (PAN, expiry, sequence number, card key, ATC, and
// what the gateway is expected to answer for each service).
//
// A card file is JSON: {"cards": [ {...}, ... ]}, one card per line when
// written by this package. Small files are read whole (Load) and written
// back atomically (Save: a temporary file in the same directory, then a
// rename). Large generated files (millions of cards) are read card by card
// (Scan) and their counters written back by streaming them through
// (UpdateATCs), so memory stays bounded.
//
// demo.json, embedded as Demo, holds the cards of the embedded demo ledger.
package cards
