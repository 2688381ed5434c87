package storetest

import (
	"context"
	"sync/atomic"

	"github.com/bli/atmgw/ledger"
)

// Counting is a ledger.Store that counts the inquiries that reach the
// store it wraps (tests of the guards and the cluster in front of it).
type Counting struct {
	ledger.Store
	Calls atomic.Int64
}

// Inquire counts the call and passes it on.
func (c *Counting) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	c.Calls.Add(1)
	return c.Store.Inquire(ctx, q)
}
