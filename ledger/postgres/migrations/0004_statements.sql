-- Ready-made statements: each person's row carries what an inquiry shows of
-- each service (ledger.AppendPension, ledger.AppendInsurance: the latest six
-- rows, the totals or the coverage), computed by the loader for the persons
-- a load touched. An inquiry reads the consent and this row, each by its
-- primary key: no sort, no aggregate, no scan over a person's history. The
-- ledger rows stay for the loads (delta loads, corrections).
--
-- NULL: not computed yet. atmgw migrate computes them for the persons
-- already loaded (in Go, right after this file, in the same transaction),
-- and every load computes them for the persons it adds.
ALTER TABLE persons ADD COLUMN pension bytea, ADD COLUMN insurance bytea;
CREATE INDEX persons_unstated ON persons (national_id) WHERE pension IS NULL OR insurance IS NULL;

-- The totals and the coverage now live in the statements.
DROP TABLE person_totals;
