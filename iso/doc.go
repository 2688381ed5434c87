// Package iso is the wire format of partner interface v1 (see
// docs/interface.md, section 3): ISO 8583:1987 in ASCII with
// Big5 text fields, carried in frames with a 2-byte big-endian length.
//
// It holds
//   - the one field table (spec.go): per field, its format, its key in logs
//     and where Message holds it; the codec, Field/Has/Clear, FieldLayout,
//     the log description and Spec all read it;
//   - the message spec as data (Spec, a moov-io/iso8583 MessageSpec) and the
//     codec that implements it: Encode / AppendEncode and Decode, between
//     packed bytes and Message. Decode returns a partial Message beside its
//     error, so that a malformed request can still be answered; errors are
//     typed (*FieldError for a bad field, *StructureError for a message that
//     cannot be walked) and never carry field values;
//   - framing: ReadFrame, WriteFrame, AppendFrame, MaxFrameLength;
//   - the constants of the interface: MTIs, processing codes (with
//     ServiceOf, the one mapping from DE3 to card.Service), network
//     management codes, response codes (with Describe) and ResponseMTI;
//   - the DE64 MAC (ANSI X9.19): MAC, SignMAC, VerifyMAC, EncodeMAC;
//   - DE54 amounts: FormatAmounts;
//   - a safe description of a Message for logs (LogFields,
//     MarshalLogObject, String), the PAN masked by card.MaskPAN.
//
// The package knows nothing of sockets or the ledger, and holds no state:
// every function is safe for concurrent use.
package iso
