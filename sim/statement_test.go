package sim

import (
	"strings"
	"testing"
)

func pad(b []byte, n int) []byte {
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}

func TestParseStatementPension(t *testing.T) {
	var b []byte
	b = append(b, "P2"+"1151031"...)
	b = append(b, "11507"+"01"...)
	b = append(b, pad(EncodeBig5("台北大同電子股份有限公司"), 40)...)
	b = append(b, "+000000001728"...)
	b = append(b, "11412"+"03"...)
	b = append(b, pad(EncodeBig5("勞動部勞動基金運用局"), 40)...)
	b = append(b, "-000000012345"...)
	b = append(b, "+000000123456"+"-000000000099"...)
	s, err := ParseStatement(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Service != 'P' || s.AsOf != "1151031" || len(s.Rows) != 2 || s.Contributions != 123456 || s.Earnings != -99 {
		t.Fatalf("%+v", s)
	}
	if r := s.Rows[0]; r.When != "11507" || r.Kind != "01" || r.Unit != "台北大同電子股份有限公司" || r.Amount != 1728 {
		t.Errorf("row 0 %+v", r)
	}
	if s.Rows[1].Amount != -12345 || KindName(s.Rows[1].Kind) != "收益分配" {
		t.Errorf("row 1 %+v", s.Rows[1])
	}
	// A unit cut inside a double-byte character.
	bad := append([]byte(nil), b...)
	copy(bad[9+7:], append([]byte("abcdefghijklmnopqrstuvwxyz0123456789ABC"), 0xA5))
	if _, err := ParseStatement(bad); err == nil || !strings.Contains(err.Error(), "cuts") {
		t.Errorf("cut unit: err = %v", err)
	}
	if _, err := ParseStatement(b[:len(b)-1]); err == nil {
		t.Error("short DE62 accepted")
	}
}

func TestParseStatementInsurance(t *testing.T) {
	b := []byte("I1" + "1151031" + "1080301" + "11")
	b = append(b, pad(EncodeBig5("國立台中大學"), 40)...)
	b = append(b, "0045800"+"012"+"100"...)
	s, err := ParseStatement(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.SeniorityYears != 12 || s.SeniorityDays != 100 || s.Rows[0].Amount != 45800 || s.Rows[0].When != "1080301" {
		t.Errorf("%+v", s)
	}
	empty, err := ParseStatement([]byte("I0" + "1151031" + "000000"))
	if err != nil || len(empty.Rows) != 0 {
		t.Errorf("empty statement: %+v %v", empty, err)
	}
	for _, bad := range []string{"X0115103100", "I7115103100000", "I0115133100000", "I01151031000400"} {
		if _, err := ParseStatement([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseAmounts(t *testing.T) {
	a, err := ParseAmounts("0090901C000000123456" + "0091901D000000000099")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || a[0].Type != "90" || a[0].Value != 123456 || a[1].Type != "91" || a[1].Value != -99 || a[1].Currency != "901" {
		t.Errorf("%+v", a)
	}
	for _, bad := range []string{"", "0090901X000000123456", "0090901C00000012345"} {
		if _, err := ParseAmounts(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if FormatTWD(-1234567) != "-1,234,567" || FormatTWD(999) != "999" || FormatTWD(1000) != "1,000" {
		t.Error("FormatTWD")
	}
}
