package card

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseICCExample(t *testing.T) {
	data := unhex(t, exampleDE55)
	icc, err := ParseICC(data, "001")
	if err != nil {
		t.Fatal(err)
	}
	want := ICC{
		Cryptogram:     [8]byte{0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70, 0x81},
		CID:            0x80,
		ATC:            42,
		Unpredictable:  [4]byte{0xDE, 0xAD, 0xBE, 0xEF},
		PANSequence:    1,
		HasPANSequence: true,
	}
	if icc != want {
		t.Errorf("got %+v, want %+v", icc, want)
	}
	if got := BuildICC(icc); !bytes.Equal(got, data) {
		t.Errorf("BuildICC = %X, want %s", got, exampleDE55)
	}
}

func TestParseICCAccepts(t *testing.T) {
	const (
		crypt = "9F26081A2B3C4D5E6F7081"
		cid   = "9F270180"
		atc   = "9F3602002A"
		un    = "9F3704DEADBEEF"
	)
	tests := []struct {
		name    string
		in      string
		de23    string
		seq     int
		hasSeq  bool
		wantATC uint16
	}{
		{"example with DE23", exampleDE55, "001", 1, true, 42},
		{"no 5F34, DE23 present", crypt + cid + atc + un, "001", 0, false, 42},
		{"no 5F34, no DE23", crypt + cid + atc + un, "", 0, false, 42},
		{"other order", un + "5F340100" + atc + cid + crypt, "000", 0, true, 42},
		{"unknown extra tags", "9A03241124" + crypt + "950500000000009F100706010A03A00000" + cid + atc + un, "", 0, false, 42},
		{"template with garbage inside is not looked into", crypt + cid + "7003FFFFFF" + atc + un, "", 0, false, 42},
		{"long-form lengths", "9F2681081A2B3C4D5E6F7081" + "9F27820001" + "80" + atc + un, "", 0, false, 42},
		{"padding", "0000" + crypt + "00" + cid + atc + un + "00", "", 0, false, 42},
		{"BCD sequence 10", crypt + cid + atc + un + "5F340110", "010", 10, true, 42},
		{"BCD sequence 99", crypt + cid + atc + un + "5F340199", "099", 99, true, 42},
		{"DE23 without 5F34 is not checked", crypt + cid + atc + un, "100", 0, false, 42},
		{"ATC 65535", crypt + cid + "9F3602FFFF" + un, "", 0, false, 65535},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			icc, err := ParseICC(unhex(t, tc.in), tc.de23)
			if err != nil {
				t.Fatal(err)
			}
			if icc.HasPANSequence != tc.hasSeq || icc.PANSequence != tc.seq || icc.ATC != tc.wantATC {
				t.Errorf("got seq %d/%v ATC %d, want %d/%v %d", icc.PANSequence, icc.HasPANSequence, icc.ATC, tc.seq, tc.hasSeq, tc.wantATC)
			}
			if icc.CID != 0x80 || icc.Unpredictable != [4]byte{0xDE, 0xAD, 0xBE, 0xEF} || icc.Cryptogram[7] != 0x81 {
				t.Errorf("fields: %+v", icc)
			}
		})
	}
}

func TestParseICCErrors(t *testing.T) {
	const (
		crypt = "9F26081A2B3C4D5E6F7081"
		cid   = "9F270180"
		atc   = "9F3602002A"
		un    = "9F3704DEADBEEF"
		all   = crypt + cid + atc + un
	)
	tests := []struct {
		name   string
		in     string
		de23   string
		err    error
		tag    Tag
		offset int
	}{
		{"empty", "", "", ErrMissingTag, TagCryptogram, -1},
		{"missing 9F26", cid + atc + un, "", ErrMissingTag, TagCryptogram, -1},
		{"missing 9F27", crypt + atc + un, "", ErrMissingTag, TagCID, -1},
		{"missing 9F36", crypt + cid + un, "", ErrMissingTag, TagATC, -1},
		{"missing 9F37", crypt + cid + atc, "", ErrMissingTag, TagUnpredictable, -1},
		{"9F26 inside a template only", "700B" + crypt + cid + atc + un, "", ErrMissingTag, TagCryptogram, -1},
		{"9F26 of 7 bytes", "9F26071A2B3C4D5E6F70" + cid + atc + un, "", ErrTagLength, TagCryptogram, 0},
		{"9F26 of 9 bytes", "9F26091A2B3C4D5E6F708199" + cid + atc + un, "", ErrTagLength, TagCryptogram, 0},
		{"9F27 of 2 bytes", crypt + "9F27028000" + atc + un, "", ErrTagLength, TagCID, 11},
		{"9F36 of 1 byte", crypt + cid + "9F36012A" + un, "", ErrTagLength, TagATC, 15},
		{"9F36 of 3 bytes", crypt + cid + "9F360300002A" + un, "", ErrTagLength, TagATC, 15},
		{"9F37 of 8 bytes", crypt + cid + atc + "9F3708DEADBEEFDEADBEEF", "", ErrTagLength, TagUnpredictable, 20},
		{"5F34 of 2 bytes", all + "5F34020001", "", ErrTagLength, TagPANSequence, 27},
		{"5F34 empty", all + "5F3400", "", ErrTagLength, TagPANSequence, 27},
		{"duplicate 9F36", all + "9F36020030", "", ErrDuplicateTag, TagATC, 27},
		{"duplicate unknown tag", "9A03241124" + all + "9A03241125", "", ErrDuplicateTag, 0x9A, 32},
		{"5F34 disagrees with DE23", all + "5F340101", "002", ErrSequenceMismatch, TagPANSequence, 27},
		{"5F34 BCD 10 vs DE23 016", all + "5F340110", "016", ErrSequenceMismatch, TagPANSequence, 27},
		// Decisions of docs/interface.md section 3: 5F34 is BCD (n2) only,
		// and a 5F34 needs a DE23 to agree with.
		{"5F34 binary 0A vs DE23 010", all + "5F34010A", "010", ErrSequenceNotBCD, TagPANSequence, 27},
		{"5F34 FF", all + "5F3401FF", "", ErrSequenceNotBCD, TagPANSequence, 27},
		{"5F34 without DE23", all + "5F340101", "", ErrSequenceWithoutDE23, TagPANSequence, 27},
		{"example without DE23", exampleDE55, "", ErrSequenceWithoutDE23, TagPANSequence, 27},
		{"DE23 100 cannot agree with a 5F34", all + "5F340100", "100", ErrSequenceMismatch, TagPANSequence, 27},
		{"DE23 too short", all, "01", ErrCardSequence, 0, -1},
		{"DE23 not digits", all, "0A1", ErrCardSequence, 0, -1},
		{"truncated value", crypt + cid + "9F3602002A9F3704DEAD", "", ErrValueTruncated, TagUnpredictable, 20},
		{"truncated tag", all + "5F", "", ErrTagTruncated, 0x5F, 27},
		{"truncated length", all + "5F34", "", ErrLengthTruncated, TagPANSequence, 27},
		{"indefinite length", all + "5F3480", "", ErrLengthForm, TagPANSequence, 27},
		{"too long", all + "DF01" + "81E4" + strings.Repeat("00", 0xE4), "", ErrICCTooLong, 0, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			icc, err := ParseICC(unhex(t, tc.in), tc.de23)
			if err == nil {
				t.Fatalf("no error, got %+v", icc)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			var te *TLVError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *TLVError", err)
			}
			if te.Tag != tc.tag || te.Offset != tc.offset {
				t.Errorf("tag %s offset %d, want %s offset %d (%v)", te.Tag, te.Offset, tc.tag, tc.offset, err)
			}
			if icc != (ICC{}) {
				t.Errorf("partial ICC returned with the error: %+v", icc)
			}
			msg := strings.ToUpper(err.Error())
			for _, v := range []string{"1A2B3C", "DEADBEEF", "DEAD)", "002A"} {
				if strings.Contains(msg, v) {
					t.Errorf("error shows a value (%s): %v", v, err)
				}
			}
		})
	}
}

func TestBuildICCRoundTrip(t *testing.T) {
	base := ICC{Cryptogram: [8]byte{8, 7, 6, 5, 4, 3, 2, 1}, CID: 0x40, ATC: 0xBEEF, Unpredictable: [4]byte{1, 2, 3, 4}}
	if got, err := ParseICC(BuildICC(base), "005"); err != nil || got != base {
		t.Fatalf("without 5F34: got %+v, %v", got, err)
	}
	if b := BuildICC(base); bytes.Contains(b, []byte{0x5F, 0x34}) || len(b) != 27 {
		t.Errorf("without 5F34: %X", b)
	}
	for seq := 0; seq <= 99; seq++ {
		in := base
		in.PANSequence, in.HasPANSequence = seq, true
		de23 := string([]byte{'0', byte('0' + seq/10), byte('0' + seq%10)})
		got, err := ParseICC(BuildICC(in), de23)
		if err != nil || got != in {
			t.Fatalf("seq %d: got %+v, %v", seq, got, err)
		}
	}
}
