package load

import (
	"fmt"
	"sync/atomic"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/sim"
	"github.com/bli/atmgw/sim/cards"
)

// cardState is a card of the pool: in one request at a time.
type cardState struct {
	card cards.Card
	chip *sim.Chip
	dead bool
}

// retire takes a card out of the run for good; when an institution has no
// card left, sending stops.
func (w *worker) retire(cs *cardState, err error) {
	r := w.r
	r.errorf("card %s taken out of the run: %v", card.MaskPAN(cs.card.PAN), err)
	cs.dead = true
	if r.alive[w.inst].Add(-1) == 0 {
		r.errorf("institution %s has no usable card left: sending stopped", w.inst)
		r.stopSending()
	}
}

// dealCards puts each card of the configuration in the pool of one
// institution of the run (a card is in one request at a time): a card
// meant for several of them goes to the one with the fewest cards so far.
// It returns every card dealt, by PAN.
func (r *run) dealCards() (map[string]*cardState, error) {
	all := map[string]*cardState{}
	lists := map[string][]*cardState{}
	for pass := 1; pass <= 2; pass++ { // cards of one institution first, then shared ones
		for i := range r.cfg.Cards {
			c := &r.cfg.Cards[i]
			var eligible []string
			for _, inst := range r.cfg.Institutions {
				if len(c.Institutions) > 0 && c.For(inst) && !contains(eligible, inst) {
					eligible = append(eligible, inst)
				}
			}
			if len(eligible) == 0 || (pass == 1) != (len(eligible) == 1) {
				continue
			}
			best := eligible[0]
			for _, inst := range eligible[1:] {
				if len(lists[inst]) < len(lists[best]) {
					best = inst
				}
			}
			cs := &cardState{card: *c}
			all[c.PAN] = cs
			lists[best] = append(lists[best], cs)
		}
	}
	for _, inst := range r.cfg.Institutions {
		if _, done := r.pools[inst]; done {
			continue
		}
		list := lists[inst]
		if len(list) == 0 {
			return nil, fmt.Errorf("%w: no card of institution %s in the card file", ErrConfig, inst)
		}
		pool := make(chan *cardState, len(list))
		for _, cs := range list {
			pool <- cs
		}
		r.pools[inst] = pool
		r.alive[inst] = &atomic.Int64{}
		r.alive[inst].Store(int64(len(pool)))
	}
	return all, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
