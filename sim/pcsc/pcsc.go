//go:build pcsc

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/bli/atmgw/sim/applet"
)

// Built reports whether this binary has PC/SC support (the pcsc build tag).
const Built = true

// pollEvery bounds one wait for a card: the wait is also cancelled through
// SCardCancel when ctx ends, this only catches a cancel that came too early.
const pollEvery = time.Second

// Readers lists the names of the PC/SC readers that pcscd knows.
func Readers(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sctx, err := establish()
	if err != nil {
		return nil, err
	}
	defer sctx.Release()
	return listReaders(sctx)
}

// Open connects to the card in a reader and returns a Transport to it and
// the function that disconnects (resetting the card) and releases the PC/SC
// context. readerName picks the reader: its full name, or any part of it
// (case-insensitive), or "" for any reader. When several readers match, Open
// takes the first that holds a card. It waits for a card until ctx ends, and
// then fails with ErrNoCard.
//
// The Transport is for one goroutine at a time; a Transmit after the close
// function fails with ErrClosed.
func Open(ctx context.Context, readerName string) (applet.Transport, func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	sctx, err := establish()
	if err != nil {
		return nil, nil, err
	}
	tr, err := open(ctx, sctx, readerName)
	if err != nil {
		sctx.Release()
		return nil, nil, err
	}
	return tr, tr.close, nil
}

func open(ctx context.Context, sctx *scard.Context, readerName string) (*transport, error) {
	all, err := listReaders(sctx)
	if err != nil {
		return nil, err
	}
	candidates := matchReaders(all, readerName)
	if len(candidates) == 0 {
		return nil, fmt.Errorf("%w: none matches %q (readers: %s)", ErrNoReader, readerName, strings.Join(all, "; "))
	}
	name, err := waitForCard(ctx, sctx, candidates)
	if err != nil {
		return nil, err
	}
	card, err := sctx.Connect(name, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		return nil, fmt.Errorf("pcsc: connect to the card in %q: %w", name, classify(err))
	}
	return &transport{sctx: sctx, card: card, reader: name}, nil
}

// matchReaders is the exact name, else those containing name (any case).
func matchReaders(all []string, name string) []string {
	if name == "" {
		return all
	}
	for _, r := range all {
		if r == name {
			return []string{r}
		}
	}
	var out []string
	for _, r := range all {
		if strings.Contains(strings.ToLower(r), strings.ToLower(name)) {
			out = append(out, r)
		}
	}
	return out
}

// waitForCard returns the first of the readers that holds a card that
// answered reset, waiting for one until ctx ends.
func waitForCard(ctx context.Context, sctx *scard.Context, readers []string) (string, error) {
	states := make([]scard.ReaderState, len(readers))
	for i, r := range readers {
		states[i] = scard.ReaderState{Reader: r, CurrentState: scard.StateUnaware}
	}
	stop := context.AfterFunc(ctx, func() { _ = sctx.Cancel() })
	defer stop()
	for {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("%w (waited in %s): %w", ErrNoCard, strings.Join(readers, "; "), err)
		}
		err := sctx.GetStatusChange(states, pollEvery)
		switch {
		case err == nil:
		case errors.Is(err, scard.ErrTimeout), errors.Is(err, scard.ErrCancelled):
			continue // ctx is checked at the top
		default:
			return "", fmt.Errorf("pcsc: wait for a card: %w", classify(err))
		}
		for i := range states {
			ev := states[i].EventState
			if ev&scard.StatePresent != 0 && ev&scard.StateMute == 0 {
				return states[i].Reader, nil
			}
			states[i].CurrentState = ev &^ scard.StateChanged
		}
	}
}

func establish() (*scard.Context, error) {
	sctx, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcsc: establish a context: %w", classify(err))
	}
	return sctx, nil
}

func listReaders(sctx *scard.Context) ([]string, error) {
	names, err := sctx.ListReaders()
	if err != nil {
		return nil, fmt.Errorf("pcsc: list readers: %w", classify(err))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no reader is connected", ErrNoReader)
	}
	return names, nil
}

// classify puts a PC/SC error under the package's kinds.
func classify(err error) error {
	var kind error
	switch {
	case errors.Is(err, scard.ErrNoService), errors.Is(err, scard.ErrServiceStopped):
		kind = ErrNoService
	case errors.Is(err, scard.ErrNoReadersAvailable), errors.Is(err, scard.ErrUnknownReader),
		errors.Is(err, scard.ErrReaderUnavailable):
		kind = ErrNoReader
	case errors.Is(err, scard.ErrNoSmartcard), errors.Is(err, scard.ErrUnresponsiveCard),
		errors.Is(err, scard.ErrUnpoweredCard):
		kind = ErrNoCard
	case errors.Is(err, scard.ErrSharingViolation):
		kind = ErrReaderBusy
	case errors.Is(err, scard.ErrRemovedCard), errors.Is(err, scard.ErrResetCard):
		kind = ErrCardRemoved
	default:
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

type transport struct {
	mu     sync.Mutex
	sctx   *scard.Context
	card   *scard.Card
	reader string
	closed bool
}

func (t *transport) Transmit(apdu []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if len(apdu) < 4 {
		return nil, fmt.Errorf("pcsc: a command APDU has at least 4 bytes, not %d", len(apdu))
	}
	resp, err := t.card.Transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("pcsc: transmit to %q: %w", t.reader, classify(err))
	}
	return resp, nil
}

// close disconnects, resetting the card, and releases the context; later
// calls do nothing.
func (t *transport) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	derr := t.card.Disconnect(scard.ResetCard)
	if errors.Is(derr, scard.ErrRemovedCard) || errors.Is(derr, scard.ErrNoSmartcard) {
		derr = nil
	}
	rerr := t.sctx.Release()
	if err := errors.Join(derr, rerr); err != nil {
		return fmt.Errorf("pcsc: close: %w", err)
	}
	return nil
}
