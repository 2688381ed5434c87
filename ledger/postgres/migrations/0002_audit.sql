-- The audit trail (package audit): one row per answered 0200. id is the
-- writer's unique id (a random per-process prefix and a sequence), so that
-- replaying a spool stores nothing twice (INSERT ... ON CONFLICT (id) DO
-- NOTHING). The PAN is never stored: pan_hash is its keyed hash (as in
-- consents), empty when DE2 was missing or malformed.
CREATE TABLE audit_log (
	id            text        PRIMARY KEY,
	at            timestamptz NOT NULL,            -- when the answer was queued
	institution   text        NOT NULL,            -- DE32
	terminal      text        NOT NULL,            -- DE41
	stan          text        NOT NULL,            -- DE11
	rrn           text        NOT NULL,            -- DE37
	service       text        NOT NULL,            -- pension, insurance, other
	pan_hash      text        NOT NULL CHECK (pan_hash = '' OR pan_hash ~ '^[0-9a-f]{64}$'),
	response_code text        NOT NULL,            -- DE39
	latency_us    bigint      NOT NULL,            -- request read to answer queued
	stored_at     timestamptz NOT NULL DEFAULT now()
);
-- Investigations ask "what did this terminal see, when" and "this RRN".
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_terminal ON audit_log (institution, terminal, at);
CREATE INDEX audit_log_rrn ON audit_log (rrn);
