package ledger

import (
	"encoding/binary"
	"errors"
	"time"
)

// A ready-made statement is what an inquiry shows of one service, computed
// when the ledger is loaded and kept per person, so that an inquiry reads
// one row by its key and decodes it: no sort, no sum, no scan over the
// person's history. It holds everything but the as-of date, which is the
// ledger's and changes with every load (the decoders take it).
//
// The encoding is compact and cheap to decode (one allocation for the
// statement and its rows, one for the unit names):
//
//	version byte (1)
//	pension:   contributions varint, earnings varint
//	insurance: closed days uvarint, open byte (0 or 1), open since (days since 1970-01-01) varint when open
//	row count  byte (at most six)
//	each row:  entry id uvarint; pension: month (year*12 + month-1) uvarint, insurance: day varint;
//	           kind byte; amount (pension) or insured salary (insurance) varint; unit name length uvarint
//	the unit names, UTF-8, one after the other
const statementVersion = 1

// ErrBadStatement is returned by the decoders for bytes that are not a
// statement of this encoding (a schema newer than the binary, or damage).
var ErrBadStatement = errors.New("ledger: malformed ready-made statement")

// AppendPension appends the ready-made pension statement of rows (the
// latest, newest first, as LatestPension gives them; at most six are kept)
// and the totals over all the person's rows.
func AppendPension(b []byte, rows []PensionRow, contributions, earnings int64) []byte {
	rows = rows[:min(len(rows), StatementRows)]
	b = append(b, statementVersion)
	b = binary.AppendVarint(b, contributions)
	b = binary.AppendVarint(b, earnings)
	b = append(b, byte(len(rows)))
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(r.EntryID))
		b = binary.AppendUvarint(b, uint64(r.Year*12+r.Month-1))
		b = append(b, byte(r.Kind))
		b = binary.AppendVarint(b, r.Amount)
		b = binary.AppendUvarint(b, uint64(len(r.Unit)))
	}
	for _, r := range rows {
		b = append(b, r.Unit...)
	}
	return b
}

// AppendInsurance appends the ready-made insurance statement of rows (the
// latest, newest first, as LatestInsurance gives them; at most six are
// kept) and the person's coverage.
func AppendInsurance(b []byte, rows []InsuranceRow, c Cover) []byte {
	rows = rows[:min(len(rows), StatementRows)]
	b = append(b, statementVersion)
	b = binary.AppendUvarint(b, uint64(c.ClosedDays))
	if c.Open {
		b = append(b, 1)
		b = binary.AppendVarint(b, int64(dayNumber(c.OpenSince)))
	} else {
		b = append(b, 0)
	}
	b = append(b, byte(len(rows)))
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(r.EntryID))
		b = binary.AppendVarint(b, int64(dayNumber(r.Date)))
		b = append(b, byte(r.Kind))
		b = binary.AppendVarint(b, r.Salary)
		b = binary.AppendUvarint(b, uint64(len(r.Unit)))
	}
	for _, r := range rows {
		b = append(b, r.Unit...)
	}
	return b
}

// decoder reads the encoding; the first malformed read sets bad.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// header reads the version and the row count.
func (d *decoder) count() int {
	n := int(d.byte())
	if n > StatementRows {
		d.bad = true
	}
	return n
}

// units cuts the unit names, whose lengths are lens, from the rest of the
// bytes, with one allocation.
func (d *decoder) units(lens *[StatementRows]uint64, n int, set func(i int, s string)) {
	var total uint64
	for _, l := range lens[:n] {
		total += l
	}
	if d.bad || total != uint64(len(d.b)) {
		d.bad = true
		return
	}
	all := string(d.b)
	off := uint64(0)
	for i, l := range lens[:n] {
		set(i, all[off:off+l])
		off += l
	}
	d.b = nil
}

// pensionBlock puts a statement and its rows in one allocation.
type pensionBlock struct {
	st   PensionStatement
	rows [StatementRows]PensionRow
}

// DecodePension decodes a ready-made pension statement (AppendPension) as
// of the ledger's as-of date.
func DecodePension(b []byte, asOf time.Time) (*PensionStatement, error) {
	d := decoder{b: b}
	if d.byte() != statementVersion {
		return nil, ErrBadStatement
	}
	blk := &pensionBlock{}
	st := &blk.st
	st.AsOf = asOf
	st.Contributions = d.varint()
	st.Earnings = d.varint()
	n := d.count()
	if d.bad {
		return nil, ErrBadStatement
	}
	var lens [StatementRows]uint64
	for i := range n {
		r := &blk.rows[i]
		r.EntryID = int64(d.uvarint())
		m := int(d.uvarint())
		r.Year, r.Month = m/12, m%12+1
		r.Kind = PensionKind(d.byte())
		r.Amount = d.varint()
		lens[i] = d.uvarint()
	}
	d.units(&lens, n, func(i int, s string) { blk.rows[i].Unit = s })
	if d.bad {
		return nil, ErrBadStatement
	}
	if n > 0 {
		st.Rows = blk.rows[:n:n]
	}
	return st, nil
}

// insuranceBlock puts a statement and its rows in one allocation.
type insuranceBlock struct {
	st   InsuranceStatement
	rows [StatementRows]InsuranceRow
}

// DecodeInsurance decodes a ready-made insurance statement
// (AppendInsurance) as of the ledger's as-of date: the seniority counts
// the open intervals to asOf.
func DecodeInsurance(b []byte, asOf time.Time) (*InsuranceStatement, error) {
	d := decoder{b: b}
	if d.byte() != statementVersion {
		return nil, ErrBadStatement
	}
	blk := &insuranceBlock{}
	st := &blk.st
	st.AsOf = asOf
	var c Cover
	c.ClosedDays = int(d.uvarint())
	if d.byte() == 1 {
		c.Open = true
		c.OpenSince = dateOfDay(int(d.varint()))
	}
	n := d.count()
	if d.bad {
		return nil, ErrBadStatement
	}
	st.SeniorityDays = c.Days(asOf)
	var lens [StatementRows]uint64
	for i := range n {
		r := &blk.rows[i]
		r.EntryID = int64(d.uvarint())
		r.Date = dateOfDay(int(d.varint()))
		r.Kind = InsuranceKind(d.byte())
		r.Salary = d.varint()
		lens[i] = d.uvarint()
	}
	d.units(&lens, n, func(i int, s string) { blk.rows[i].Unit = s })
	if d.bad {
		return nil, ErrBadStatement
	}
	if n > 0 {
		st.Rows = blk.rows[:n:n]
	}
	return st, nil
}
