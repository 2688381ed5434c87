-- The card state (ledger.CardState, decisions 7, 14 and 15), on the
-- primary, shared by every gateway on it. Times are unix nanoseconds of the
-- gateways' clocks (CardCheck.Now), never the database's now(). Keys and PAN
-- hashes are bytea: a key is DE32|DE41|DE11|DE7 as the partner sent them
-- (any bytes), a PAN hash the bytes of card.PANHasher's hex string
-- (convert_to(consents.pan_hash, 'UTF8') to join).

-- Decision 7: the requests of the last window. A key is recorded (or
-- recorded again, once its window has passed) by every check; the gateways
-- delete the expired ones every minute (postgres.CardState.Prune), so the
-- table holds about one window of requests.
CREATE TABLE card_duplicate_keys (
	key     bytea  PRIMARY KEY,
	seen_at bigint NOT NULL
);
CREATE INDEX card_duplicate_keys_seen_at ON card_duplicate_keys (seen_at);

-- Decisions 14 and 15, one row per card ever accepted (never deleted:
-- forgetting a card would let its old ATCs through again): the highest ATC
-- accepted (-1: none yet, only while the row's first check is in progress)
-- and the times of the inquiries the rate allowed that were still in the
-- window at the card's last check (oldest first, at most the rate limit:
-- trimmed on every update). No index but the key, and room in each page,
-- so that an update is a HOT update.
CREATE TABLE card_counters (
	pan_hash   bytea    PRIMARY KEY,
	atc        integer  NOT NULL CHECK (atc BETWEEN -1 AND 65535),
	rate_times bigint[] NOT NULL DEFAULT '{}'
) WITH (fillfactor = 70);

-- card_state_check applies decisions 7, 14 and 15 to a batch of checks (one
-- group commit) and returns their verdicts in the order given: 0 accepted,
-- 1 duplicate, 2 replayed, 3 over rate (ledger.CardVerdict). The result is
-- that of the checks applied one after the other in that order, but the
-- rows are locked in one global order, whatever the batch: the duplicate
-- keys first, by key, then the cards, by hash; so two gateways' batches
-- never deadlock. A key or a card appearing twice in a batch is handled
-- in the batch's order (a statement could not touch the same row twice).
-- Under READ COMMITTED every statement sees the rows other batches
-- committed while it waited for their locks.
--
-- p_rate_limit 0 turns decision 15 off; windows are in nanoseconds.
CREATE FUNCTION card_state_check(
	p_keys        bytea[],
	p_cards       boolean[],
	p_hashes      bytea[],
	p_atcs        integer[],
	p_nows        bigint[],
	p_dup_window  bigint,
	p_rate_limit  integer,
	p_rate_window bigint
) RETURNS smallint[]
LANGUAGE plpgsql
-- PL/pgSQL caches one plan per statement and session. Made while
-- card_counters was small (a fresh database, the first minutes of a
-- gateway), that plan is a sequential scan, kept as the table grows to
-- millions of cards: every check would then read the whole table. The
-- lookups by primary key must always be index scans.
SET enable_seqscan = off
AS $$
DECLARE
	n       integer := coalesce(cardinality(p_keys), 0);
	verdict smallint[] := array_fill(0::smallint, ARRAY[n]);
	i       integer;
	j       integer;
	m       integer;
	cur     bytea;    -- the card whose row is locked, its state in v_atc, v_times
	v_atc   integer;
	v_times bigint[];
	dirty   boolean := false;
	t       bigint;
BEGIN
	-- Decision 7, by key (then arrival): a key not seen within the window
	-- is recorded now; otherwise the check is a duplicate (the row stays
	-- locked all the same, as ON CONFLICT DO UPDATE locks it).
	FOR i IN SELECT u.o FROM unnest(p_keys) WITH ORDINALITY AS u(k, o) ORDER BY u.k, u.o LOOP
		INSERT INTO card_duplicate_keys AS d (key, seen_at) VALUES (p_keys[i], p_nows[i])
		ON CONFLICT (key) DO UPDATE SET seen_at = excluded.seen_at
			WHERE excluded.seen_at - d.seen_at >= p_dup_window;
		IF NOT FOUND THEN
			verdict[i] := 1;
		END IF;
	END LOOP;

	-- Decisions 14 and 15, by card (then arrival), for the checks that
	-- passed decisions 8 to 13 and are not duplicates. Each card's row is
	-- locked (created first if new) and written back once.
	FOR i IN SELECT u.o FROM unnest(p_hashes, p_cards) WITH ORDINALITY AS u(h, c, o)
			WHERE u.c AND verdict[u.o] = 0 ORDER BY u.h, u.o LOOP
		IF cur IS DISTINCT FROM p_hashes[i] THEN
			IF dirty THEN
				UPDATE card_counters SET atc = v_atc, rate_times = v_times WHERE pan_hash = cur;
			END IF;
			cur := p_hashes[i];
			dirty := false;
			SELECT c.atc, c.rate_times INTO v_atc, v_times FROM card_counters c WHERE c.pan_hash = cur FOR UPDATE;
			IF NOT FOUND THEN
				INSERT INTO card_counters (pan_hash, atc) VALUES (cur, -1) ON CONFLICT (pan_hash) DO NOTHING;
				SELECT c.atc, c.rate_times INTO STRICT v_atc, v_times FROM card_counters c WHERE c.pan_hash = cur FOR UPDATE;
			END IF;
		END IF;
		-- Decision 14: above the highest accepted (0 only as the first).
		IF p_atcs[i] <= v_atc THEN
			verdict[i] := 2;
			CONTINUE;
		END IF;
		v_atc := p_atcs[i];
		dirty := true;
		-- Decision 15: a sliding window of the inquiries allowed (refused
		-- ones do not count); times never go backwards within a card.
		IF p_rate_limit > 0 THEN
			t := p_nows[i];
			m := coalesce(cardinality(v_times), 0);
			j := 1;
			WHILE j <= m AND v_times[j] <= t - p_rate_window LOOP
				j := j + 1;
			END LOOP;
			IF j > 1 THEN
				v_times := v_times[j:m];
				m := m - j + 1;
			END IF;
			IF m >= p_rate_limit THEN
				verdict[i] := 3;
				CONTINUE;
			END IF;
			IF m > 0 AND v_times[m] > t THEN
				t := v_times[m];
			END IF;
			v_times := v_times || t;
		END IF;
	END LOOP;
	IF dirty THEN
		UPDATE card_counters SET atc = v_atc, rate_times = v_times WHERE pan_hash = cur;
	END IF;
	RETURN verdict;
END
$$;
