// Package card holds what the gateway knows of a chip card and its holder:
// the DE55 BER-TLV chip data and its checks, the card expiry, the consent
// decisions (bound to one institution, revoked, service not consented,
// personal data that does not match the insured person), the ATC replay
// tracker, the per-card rate limiter, the keyed PAN hash, and the masking
// used wherever a PAN or national ID could be shown.
//
// ParseICC and BuildICC read and write the DE55 the contract asks for
// (AppendTLV writes one BER-TLV object; the tests hold a general BER-TLV
// codec as their oracle). CheckExpiry
// and Validate return sentinel errors that the gateway maps to response
// codes (ErrBadExpiry 30, ErrExpired 54, ErrNoConsent 14, ErrRevoked and
// ErrServiceNotConsented 57, ErrPersonMismatch 25); every DE55 error is a
// *TLVError (30). Errors name tags, offsets and fields, never values.
//
// ATCTracker (decision 14) and RateLimiter (decision 15) keep per-card
// state in memory, keyed by the PAN hash of PANHasher and split over
// independently locked shards. That state is per process: they are the
// building blocks of ledger.MemoryCardState (the embedded demo ledger, and
// the optional fallback while the primary is down). A deployment on
// PostgreSQL keeps decisions 7, 14 and 15 on the primary instead
// (postgres.CardState), shared by every gateway and kept across restarts.
//
// Scrub masks card numbers and national IDs in free text (a recovered
// panic's value and stack) before it reaches a log.
//
// It knows nothing of sockets, ISO 8583 framing or SQL.
package card
