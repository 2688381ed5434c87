// Package vpcd puts an applet.Card behind vsmartcard's virtual smart card
// reader (vpcd, Debian package vsmartcard-vpcd), so that programs using the
// real PC/SC stack (pcscd, libpcsclite, ebfe/scard, sim/pcsc) see a card in a
// reader named "Virtual PCD 00 00".
//
// vpcd is a pcscd driver that listens on a TCP port (35963 by default, on
// every interface; see /etc/reader.conf.d/vpcd) for the virtual card, which
// connects to it. Each message either way is a 2-byte big-endian length and
// then the bytes: from vpcd, a one-byte control code (0 power off, 1 power
// on, 2 reset, 4 get ATR) or a command APDU; the card answers the ATR request
// with its ATR and an APDU with the applet's response, and nothing else.
//
// Serve is pure Go (no PC/SC library is needed on the card's side).
package vpcd
