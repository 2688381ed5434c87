// Package card holds what the gateway knows of a chip card and its holder:
// the DE55 BER-TLV chip data and its checks, the card expiry, the consent
// decisions (bound to one institution, revoked, service not consented,
// personal data that does not match the insured person), the ATC replay
// tracker, the per-card rate limiter, the keyed PAN hash, and the masking
// used wherever a PAN or national ID could be shown.
//
// It knows nothing of sockets, ISO 8583 framing or SQL.
package card
