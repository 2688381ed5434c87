-- Consents registered online (an 0302 from a partner, postgres.Store.Register)
-- live in consents beside those of the core ledger's export. source says
-- which brought the record now stored; registered_at is when the gateway
-- stored an online one (NULL for an exported one).
--
-- Reconciliation (ledger.ExportReplaces, ledger.ResolveRegistration): the
-- later signed date wins (a revocation's signed date is the date it was
-- signed). An export row replaces an exported record as before, and a
-- record registered online only when the row was signed strictly later; an
-- online registration replaces any record signed on its date or before.
ALTER TABLE consents
	ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'export' CHECK (source IN ('export', 'online')),
	ADD COLUMN IF NOT EXISTS registered_at timestamptz;
