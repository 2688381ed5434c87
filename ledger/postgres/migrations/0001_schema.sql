-- The ledger as the gateway reads it. Loaded by `atmgw load`; an inquiry
-- reads one consent, one person, one totals row and at most six rows of
-- one ledger through an index: it never sums over a person's rows.

CREATE TABLE persons (
	national_id text PRIMARY KEY,
	name        text NOT NULL,
	birth_date  date NOT NULL
);

-- Labor pension ledger. period is the first day of the data month.
CREATE TABLE pension_ledger (
	entry_id    bigint   PRIMARY KEY,
	national_id text     NOT NULL,
	period      date     NOT NULL,
	kind        smallint NOT NULL CHECK (kind BETWEEN 1 AND 5),
	unit_name   text     NOT NULL,
	amount      bigint   NOT NULL
);
CREATE INDEX pension_ledger_latest ON pension_ledger (national_id, entry_id DESC);

-- Labor insurance coverage changes.
CREATE TABLE insurance_events (
	entry_id       bigint   PRIMARY KEY,
	national_id    text     NOT NULL,
	event_date     date     NOT NULL,
	kind           smallint NOT NULL CHECK (kind BETWEEN 11 AND 13),
	unit_name      text     NOT NULL,
	insured_salary bigint   NOT NULL
);
CREATE INDEX insurance_events_latest ON insurance_events (national_id, event_date DESC, entry_id DESC);

-- Consents, found by the keyed hash of the PAN (HMAC-SHA256, hex): the PAN
-- itself is never stored. national_id need not be a person (answered 25).
CREATE TABLE consents (
	institution text    NOT NULL,
	pan_hash    text    NOT NULL CHECK (pan_hash ~ '^[0-9a-f]{64}$'),
	national_id text    NOT NULL,
	name        text    NOT NULL,
	birth_date  date    NOT NULL,
	pension     boolean NOT NULL,
	insurance   boolean NOT NULL,
	signed_date date    NOT NULL,
	revoked     boolean NOT NULL,
	PRIMARY KEY (institution, pan_hash)
);

-- Per-person totals, computed by the loader for the persons a load touched.
-- Seniority on the as-of date A is closed_days + (A - open_since + 1) when
-- open_since is set (ledger.Cover), so a new as-of date needs no recompute.
CREATE TABLE person_totals (
	national_id   text   PRIMARY KEY,
	contributions bigint NOT NULL,
	earnings      bigint NOT NULL,
	closed_days   integer NOT NULL,
	open_since    date
);

-- The date of the export loaded last: one row.
CREATE TABLE ledger_meta (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	as_of     date NOT NULL
);
