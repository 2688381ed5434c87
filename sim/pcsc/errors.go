package pcsc

import "errors"

// The kinds of failure of this package, for errors.Is.
var (
	ErrNotBuilt    = errors.New("pcsc: built without PC/SC support (rebuild with -tags pcsc; it needs libpcsclite-dev)")
	ErrNoService   = errors.New("pcsc: the PC/SC service is not running (start pcscd)")
	ErrNoReader    = errors.New("pcsc: no such smart card reader")
	ErrNoCard      = errors.New("pcsc: no card in the reader")
	ErrReaderBusy  = errors.New("pcsc: the reader is in use by another program")
	ErrCardRemoved = errors.New("pcsc: the card was removed or reset")
	ErrClosed      = errors.New("pcsc: transport closed")
)
