package audit

import (
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is what the audit trail keeps of one answered 0200: the one
// record type, which the gateway fills (gateway.Auditor) and the Writer
// stores. It holds the keyed PAN hash, never the PAN.
type Record struct {
	ID           string        // unique; Writer.Write assigns one when empty
	Time         time.Time     // when the answer was decided, before it was queued
	Institution  string        // DE32
	Terminal     string        // DE41
	STAN         string        // DE11
	RRN          string        // DE37
	Service      string        // pension, insurance or other (DE3 unknown)
	PANHash      string        // keyed hash of DE2; empty when DE2 was missing or malformed
	ResponseCode string        // DE39
	Latency      time.Duration // request read to answer queued
}

// line is a Record as one spool line holds it.
type line struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	Institution  string    `json:"institution"`
	Terminal     string    `json:"terminal"`
	STAN         string    `json:"stan"`
	RRN          string    `json:"rrn"`
	Service      string    `json:"service"`
	PANHash      string    `json:"pan_hash"`
	ResponseCode string    `json:"response_code"`
	LatencyUS    int64     `json:"latency_us"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcLen is the length of a line's checksum prefix: 8 hex digits and a space.
const crcLen = 9

// appendLine appends r as one spool line: the CRC-32C of the JSON as 8 hex
// digits, a space, the JSON, a newline.
func appendLine(dst []byte, r Record) []byte {
	j, _ := json.Marshal(line{ // cannot fail: strings, a time and an integer
		ID: r.ID, Time: r.Time, Institution: r.Institution, Terminal: r.Terminal, STAN: r.STAN, RRN: r.RRN,
		Service: r.Service, PANHash: r.PANHash, ResponseCode: r.ResponseCode, LatencyUS: r.Latency.Microseconds(),
	})
	var sum [4]byte
	c := crc32.Checksum(j, castagnoli)
	sum[0], sum[1], sum[2], sum[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	dst = hex.AppendEncode(dst, sum[:])
	dst = append(dst, ' ')
	dst = append(dst, j...)
	return append(dst, '\n')
}

// intact reports whether b (one line, without its newline) passes its checksum.
func intact(b []byte) bool {
	if len(b) < crcLen+2 || b[crcLen-1] != ' ' {
		return false
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], b[:crcLen-1]); err != nil {
		return false
	}
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	return crc32.Checksum(b[crcLen:], castagnoli) == want
}

// parseLine decodes one spool line (without its newline); ok is false for a
// torn or corrupt line.
func parseLine(b []byte) (Record, bool) {
	if !intact(b) {
		return Record{}, false
	}
	var l line
	if err := json.Unmarshal(b[crcLen:], &l); err != nil || l.ID == "" {
		return Record{}, false
	}
	return Record{ID: l.ID, Time: l.Time, Institution: l.Institution, Terminal: l.Terminal, STAN: l.STAN, RRN: l.RRN,
		Service: l.Service, PANHash: l.PANHash, ResponseCode: l.ResponseCode, Latency: time.Duration(l.LatencyUS) * time.Microsecond}, true
}

// clean makes every text field valid UTF-8 without NUL, which PostgreSQL
// text requires: a partner's odd DE41 must not make a batch fail forever.
// A PANHash that is not a hash (64 lower-case hex digits) is blanked, so
// that not even a bug can put a PAN in the trail.
func clean(r Record) Record {
	if !isHash(r.PANHash) {
		r.PANHash = ""
	}
	for _, p := range []*string{&r.ID, &r.Institution, &r.Terminal, &r.STAN, &r.RRN, &r.Service, &r.PANHash, &r.ResponseCode} {
		*p = cleanText(*p)
	}
	return r
}

func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
