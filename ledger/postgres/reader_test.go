package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/storetest"
)

// Concurrent inquiries go in batches, and each gets its own answer; one
// that gives up does not disturb the others of its batch.
func TestReadBatches(t *testing.T) {
	h := storetest.Hasher()
	st := migrated(t)
	l := storetest.Random(11, 60)
	load(t, st, l.Files(), h)
	ctx := ctxT(t)

	// The answer each consent must get, read one at a time.
	type key struct {
		pan, inst string
		svc       card.Service
	}
	want := map[key]string{}
	var keys []key
	for _, c := range l.Consents {
		pan := strings.NewReplacer(" ", "", "-", "").Replace(c.PAN)
		for _, svc := range []card.Service{card.ServicePension, card.ServiceInsurance} {
			k := key{pan, c.Inst, svc}
			a, err := st.Inquire(ctx, ledger.Query{Institution: c.Inst, PANHash: h.Hash(pan), Service: svc})
			if err != nil {
				t.Fatal(err)
			}
			want[k] = dump(a)
			keys = append(keys, k)
		}
	}
	b0, n0 := st.ReadBatches()

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 40 {
				k := keys[r.IntN(len(keys))]
				qctx := ctx
				if i%10 == 9 { // some give up at once, in the middle of a batch
					c, cancel := context.WithTimeout(ctx, time.Duration(r.IntN(200))*time.Microsecond)
					defer cancel()
					qctx = c
				}
				a, err := st.Inquire(qctx, ledger.Query{Institution: k.inst, PANHash: h.Hash(k.pan), Service: k.svc})
				if qctx != ctx {
					continue // answered or gave up: either is right
				}
				if err != nil {
					errs <- err
					return
				}
				if got := dump(a); got != want[k] {
					errs <- fmt.Errorf("%s %s %v: got\n%s\nwant\n%s", k.inst, card.MaskPAN(k.pan), k.svc, got, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b1, n1 := st.ReadBatches()
	t.Logf("%d inquiries in %d batches", n1-n0, b1-b0)
	if n1-n0 < 64*36 || b1-b0 >= n1-n0 {
		t.Errorf("%d inquiries in %d batches: none grouped", n1-n0, b1-b0)
	}
}
