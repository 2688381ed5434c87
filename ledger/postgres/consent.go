package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

var _ ledger.ConsentRegistry = (*Store)(nil)

// lockConsent is the first key of the advisory locks (pg_advisory_xact_lock
// with two int4 keys) that serialise the registrations of one (institution,
// PAN hash): a record that does not exist yet has no row to lock.
const lockConsent int32 = 0x61746d63 // "atmc"

// Register implements ledger.ConsentRegistry on the database of s (open
// it on the primary): in one transaction, under an advisory lock on the
// (institution, PAN hash), it reads the record stored and the insured
// person, decides with ledger.ResolveRegistration and writes the record
// (source 'online'). An export loaded later replaces it only with a row
// signed strictly later (see load.go: the later signed date wins).
//
// The commit asks for synchronous_commit = remote_apply: where the primary
// has synchronous standbys (synchronous_standby_names), Register returns
// only once they have applied the record, so that an inquiry read from
// them sees it. Without them it is an ordinary durable commit; the
// cluster then rereads from the primary an inquiry a replica declined for
// its consent (cluster.Cluster.Inquire), so that the next inquiry sees the
// registration all the same. An error wraps ledger.ErrUnavailable.
func (s *Store) Register(ctx context.Context, u ledger.ConsentUpdate) (ledger.ConsentResult, error) {
	if s.closed.Load() {
		return 0, ErrPoolClosed
	}
	var res ledger.ConsentResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c := u.Consent
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = remote_apply`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockConsent, c.Institution+"|"+u.PANHash)
		if err != nil {
			return err
		}
		var stored *card.Consent
		st := card.Consent{Institution: c.Institution}
		err = tx.QueryRow(ctx, `SELECT national_id, name, birth_date, pension, insurance, signed_date, revoked
			FROM consents WHERE institution = $1 AND pan_hash = $2 FOR UPDATE`, c.Institution, u.PANHash).
			Scan(&st.NationalID, &st.Name, &st.BirthDate, &st.Pension, &st.Insurance, &st.SignedDate, &st.Revoked)
		switch {
		case err == nil:
			stored = &st
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		var person *card.Person
		if u.Action != ledger.ConsentRevoke {
			p := card.Person{}
			err = tx.QueryRow(ctx, `SELECT national_id, name, birth_date FROM persons WHERE national_id = $1`, c.NationalID).
				Scan(&p.NationalID, &p.Name, &p.BirthDate)
			switch {
			case err == nil:
				person = &p
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		var rec *card.Consent
		res, rec = ledger.ResolveRegistration(stored, u, person)
		if rec == nil {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO consents AS c (institution, pan_hash, national_id, name, birth_date, pension, insurance,
				signed_date, revoked, source, registered_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'online', now())
			ON CONFLICT (institution, pan_hash) DO UPDATE SET national_id = excluded.national_id, name = excluded.name,
				birth_date = excluded.birth_date, pension = excluded.pension, insurance = excluded.insurance,
				signed_date = excluded.signed_date, revoked = excluded.revoked, source = 'online', registered_at = now()
			WHERE c.signed_date <= excluded.signed_date`,
			c.Institution, u.PANHash, rec.NationalID, rec.Name, rec.BirthDate, rec.Pension, rec.Insurance, rec.SignedDate, rec.Revoked)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("consent registration: %w", err)
		}
		return 0, fmt.Errorf("%w: consent registration: %w", ledger.ErrUnavailable, err)
	}
	return res, nil
}
