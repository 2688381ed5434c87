package audit

// A record may be made durable in another component's transaction rather
// than in a Writer's batch: the card state on the primary commits the
// record of an inquiry's answer in the transaction of the check that
// decides that answer (postgres.CardState with CardStateOptions.Journal):
// one round trip and one commit for both, and still no answer before its
// record is durable. That component asks the Writer for the record's id
// and form (Prepare), inserts it into audit_log as the Writer would, and
// reports what it committed (Journaled). A record it could not commit is
// written with Write as any other.

// Prepare returns r as Write would store it: with a unique id of this
// Writer when it had none, and its text fields cleaned to what the table
// takes (valid UTF-8, no NUL, a PAN hash or nothing).
func (w *Writer) Prepare(r Record) Record {
	if r.ID == "" {
		r.ID = w.nextID()
	}
	return clean(r)
}

// Journaled counts n records another component's transaction committed
// (Prepare'd by this Writer): in Stats.Written and Stats.Journaled, and
// their metrics.
func (w *Writer) Journaled(n int) {
	w.c.written.Add(uint64(n))
	w.c.journaled.Add(uint64(n))
}
