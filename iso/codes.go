package iso

import "github.com/bli/atmgw/card"

// Message type indicators of partner interface v1.
const (
	MTIFinancialRequest  = "0200" // inquiry
	MTIFinancialResponse = "0210"
	MTINetworkRequest    = "0800" // sign-on, sign-off, echo
	MTINetworkResponse   = "0810"
	MTIFileUpdate        = "0302" // a consent registered, replaced or revoked online
	MTIFileUpdateResp    = "0312"
)

// File update codes (DE91 of an 0302) and the one file (DE101).
const (
	FileAdd     = "1"
	FileReplace = "2"
	FileDelete  = "3"
	FileConsent = "BLICONSENT" // the consents (資料查詢服務同意書)
)

// Processing codes (DE3).
const (
	ProcPension   = "380000" // labor pension personal account 勞退個人專戶
	ProcInsurance = "390000" // labor insurance 勞保
)

// ServiceOf is the service a processing code (DE3) asks for, or 0 for a
// code the interface does not know: the one mapping from DE3 to
// card.Service (the gateway's decisions, its metrics and audit label, and
// the simulator's check of an answer all use it).
func ServiceOf(pc string) card.Service {
	switch pc {
	case ProcPension:
		return card.ServicePension
	case ProcInsurance:
		return card.ServiceInsurance
	}
	return 0
}

// Network management codes (DE70).
const (
	NetSignOn  = "001"
	NetSignOff = "002"
	NetEcho    = "301"
)

// Response codes (DE39). They are untyped string constants, so that they go
// straight into Message.ResponseCode.
const (
	RCApproved               = "00"
	RCDoNotHonour            = "05" // sign-on refused
	RCInvalidTransaction     = "12" // unknown MTI, processing code or network code
	RCNoConsent              = "14" // no consent record for this card at this institution
	RCRecordMismatch         = "25" // consent's personal data do not match the insured person
	RCFormatError            = "30" // mandatory field missing or malformed
	RCExpiredCard            = "54"
	RCNotPermittedCardholder = "57" // not chip, consent revoked or service not consented
	RCNotPermittedTerminal   = "58" // DE32 is not the connection's institution
	RCSecurityViolation      = "63" // MAC missing or wrong, ATC replayed
	RCFrequencyLimit         = "65" // over the per-card inquiry rate
	RCUnavailable            = "91" // not signed on, or ledger unavailable
	RCDuplicate              = "94" // duplicate transmission
)

// Describe gives a short English description of a response code, for logs
// and the simulator.
func Describe(rc string) string {
	switch rc {
	case RCApproved:
		return "approved"
	case RCDoNotHonour:
		return "do not honour (sign-on refused)"
	case RCInvalidTransaction:
		return "invalid transaction"
	case RCNoConsent:
		return "no consent / invalid card"
	case RCRecordMismatch:
		return "record mismatch"
	case RCFormatError:
		return "format error"
	case RCExpiredCard:
		return "expired card"
	case RCNotPermittedCardholder:
		return "transaction not permitted to cardholder"
	case RCNotPermittedTerminal:
		return "transaction not permitted to terminal/institution"
	case RCSecurityViolation:
		return "security violation"
	case RCFrequencyLimit:
		return "exceeds frequency limit"
	case RCUnavailable:
		return "issuer or ledger unavailable"
	case RCDuplicate:
		return "duplicate transmission"
	}
	return "unknown response code"
}

// ResponseMTI is the MTI answering a request MTI: the request's plus 10
// (0200 → 0210, 0800 → 0810, 0100 → 0110). ok is false when mti is not 4
// digits or is not a request: its third digit (the message function) is odd,
// as in 0210 or 0811. A response is never answered, so that two gateways
// cannot bounce messages back and forth.
func ResponseMTI(mti string) (string, bool) {
	if len(mti) != 4 || !isDigits(mti) || (mti[2]-'0')%2 != 0 {
		return "", false
	}
	return mti[:2] + string(rune(mti[2]+1)) + mti[3:], true
}
