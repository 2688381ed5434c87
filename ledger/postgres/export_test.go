package postgres

// ReadBatches reports how many batches the store's readers sent and how
// many inquiries they held.
func (s *Store) ReadBatches() (batches, inquiries uint64) {
	return s.readers.batches.Load(), s.readers.sent.Load()
}
