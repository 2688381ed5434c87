// Package pcsc is an applet.Transport over a real PC/SC smart card reader
// (pcscd and libpcsclite on Linux, through github.com/ebfe/scard), so that the
// simulator can use a physical card or vsmartcard's virtual reader (sim/vpcd).
//
// The real implementation needs cgo and libpcsclite-dev and is built only
// with the build tag pcsc (go build -tags pcsc ./cmd/atmsim). Without the
// tag the package needs no C library: Open and Readers return ErrNotBuilt and
// Built is false.
//
// Errors name what is wrong and match, with errors.Is, one of ErrNoService
// (pcscd not running), ErrNoReader, ErrNoCard, ErrReaderBusy, ErrCardRemoved,
// ErrClosed or ErrNotBuilt; the PC/SC error itself is wrapped too.
package pcsc
