// Package cardstatetest is the one test suite every ledger.CardState
// passes (MemoryCardState and postgres.CardState): Run checks decisions 7,
// 14 and 15 and their order on one instance (a duplicate wins and consumes
// nothing, a check declined at 8 to 13 consumes no ATC and no rate, a
// replay consumes no rate, a card over its rate still consumes its ATC, ATC
// 0 only as a card's first, the sliding rate window at its exact edges with
// an injected clock, times going backwards, the rate off, the defaults, the
// duplicate window's expiry) and under concurrency (the same ATC or the
// same key from many goroutines: exactly one accepted; many cards with
// increasing ATCs at once: all accepted; a card hammered at its rate: never
// more than the limit). RunShared checks two instances on one store, as two
// gateways on one database: a duplicate, a replay or a card's rate seen by
// one is seen by the other, and concurrent checks split between them still
// accept the same ATC exactly once, without deadlock.
package cardstatetest
