//go:build !pcsc

package pcsc

import (
	"context"

	"github.com/bli/atmgw/sim/applet"
)

// Built reports whether this binary has PC/SC support (the pcsc build tag).
const Built = false

// Readers would list the PC/SC readers; this build has no PC/SC support.
func Readers(ctx context.Context) ([]string, error) { return nil, ErrNotBuilt }

// Open would connect to the card in a PC/SC reader; this build has no PC/SC
// support.
func Open(ctx context.Context, readerName string) (applet.Transport, func() error, error) {
	return nil, nil, ErrNotBuilt
}
