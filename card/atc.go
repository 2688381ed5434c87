package card

// ATCTracker remembers, per card, the highest application transaction
// counter (9F36) accepted, so that a replayed or stale chip cryptogram is
// refused (decision 14, answer 63).
//
// The state is in memory and per process: a restart forgets it, and two
// gateway processes serving the same cards do not share it, so each only
// refuses replays it has seen itself. It holds one entry per card seen
// since the process started (nothing is dropped: forgetting a card would
// let its old ATCs through again); at about 100 bytes a card, a million
// cards cost some 100 MB.
//
// An ATCTracker is safe for concurrent use. The zero value is not usable:
// use NewATCTracker.
type ATCTracker struct {
	cards *shards[uint16]
}

// NewATCTracker returns an empty tracker.
func NewATCTracker() *ATCTracker {
	return &ATCTracker{cards: newShards[uint16]()}
}

// Accept reports whether atc is greater than the highest ATC accepted so far
// for the card (keyed by its PAN hash) and, if so, records it as the new
// highest. The check and the update are one atomic step, so of two
// concurrent requests with the same ATC only one is accepted. An ATC of 0
// is accepted only as a card's first. A card whose ATC reached 65535 is
// refused from then on (EMV cards stop at that point too).
func (t *ATCTracker) Accept(panHash string, atc uint16) bool {
	sh := t.cards.of(panHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if high, seen := sh.m[panHash]; seen && atc <= high {
		return false
	}
	sh.m[panHash] = atc
	return true
}

// Highest returns the highest ATC accepted for the card, and whether any was.
func (t *ATCTracker) Highest(panHash string) (uint16, bool) {
	sh := t.cards.of(panHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	high, seen := sh.m[panHash]
	return high, seen
}

// Len returns the number of cards tracked.
func (t *ATCTracker) Len() int { return t.cards.len() }
