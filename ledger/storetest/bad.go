package storetest

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bli/atmgw/ledger/loadfile"
)

// BadSet is a set of load files with bad rows of every kind among good
// ones, for the loaders' tests. Want lists the refusals; Accepted the good
// rows per file; Secrets the national IDs and PANs of the files, none of
// which may appear in clear in a reason.
type BadSet struct {
	Files    fstest.MapFS
	Want     []loadfile.RowError // Reason holds a part of the expected reason
	Accepted map[string]int64
	Rows     map[string]int64
	Secrets  []string
}

// Bad returns the bad set.
func Bad() BadSet {
	persons := `national_id,name,birth_date
A100000001,王小明,1985-06-15
B200000002,陳美玲,1990-13-45
A100000001,王小明,1985-06-15
C10000000,林志豪,1978-11-02
D100000004,,1960-01-01
E100000005,李淑芬
F100000006,"吳""小""美",1970-01-01
G100000007,"王 "x,1970-01-01
H100000008,何大衛,1899-12-31
`
	pension := "\ufeffentry_id,national_id,period,kind,unit_name,amount\r\n" + // a byte order mark and CRLF, as Excel writes
		"1,A100000001,2025-01,employer,甲公司,3000\r\n" +
		"2,A100000001,2025-02,bonus,甲公司,3000\r\n" +
		"3,A100000001,2025-13,employer,甲公司,3000\r\n" +
		"4,A100000001,2025-03,employer,甲公司,3.5\r\n" +
		"1,A100000001,2025-04,employer,甲公司,100\r\n" +
		"5,Z999999999,2025-04,employer,甲公司,100\r\n" +
		"6,B200000002,2025-04,employer,甲公司,100\r\n" +
		"0,A100000001,2025-04,employer,甲公司,100\r\n" +
		"7,A100000001,2025-04,earnings,,-50\r\n" +
		"8,A100000001,2025-05,employer,甲公司,1000000000000\r\n" +
		"9,F100000006,2025-05,employer,\"甲\n公司\",100\r\n" +
		"10,a100000001,2025-06,employer,甲公司,200\r\n"
	insurance := `entry_id,national_id,event_date,kind,unit_name,insured_salary
1,A100000001,2010-07-01,enroll,甲公司,26400
2,A100000001,2010-02-30,enroll,甲公司,26400
3,A100000001,2027-01-01,withdraw,甲公司,26400
4,A100000001,2011-01-01,quit,甲公司,26400
5,A100000001,2011-01-01,withdraw,,26400
6,A100000001,2011-01-01,withdraw,甲公司,-1
1,A100000001,2012-01-01,withdraw,甲公司,26400
7,X100000009,2012-01-01,enroll,甲公司,100
8,A100000001,2012-01-01,salary_change,甲公司,30300
`
	consents := `institution,pan,national_id,name,birth_date,services,signed_date,status
700,4711000000000001,A100000001,王小明,1985-06-15,both,2026-01-05,active
700,47110000ABC,A100000001,王小明,1985-06-15,both,2026-01-05,active
700,4711-0000-0000-0001,A100000001,王小明,1985-06-15,both,2026-01-05,active
812,4711000000000001,A100000001,王小明,1985-06-15,all,2026-01-05,active
812,4711000000000002,A100000001,王小明,1985-06-15,both,2026-01-05,paused
8x2,4711000000000003,A100000001,王小明,1985-06-15,both,2026-01-05,active
005,4711000000000004,Y123456789,無此人,1980-01-01,both,2026-01-05,active
005,4711000000000005,A100000001,王小明,1985-06-15,both,2026-1-5,active
005,4711000000000006,A12345678,王小明,1985-06-15,both,2026-01-05,active
005,471100000000000612345,A100000001,王小明,1985-06-15,both,2026-01-05,active
`
	const (
		P = loadfile.FilePersons
		L = loadfile.FilePension
		I = loadfile.FileInsurance
		C = loadfile.FileConsents
	)
	return BadSet{
		Files: fstest.MapFS{
			"as_of.txt":            {Data: []byte("2026-10-31\n")},
			"persons.csv":          {Data: []byte(persons)},
			"pension_ledger.csv":   {Data: []byte(pension)},
			"insurance_events.csv": {Data: []byte(insurance)},
			"consents.csv":         {Data: []byte(consents)},
		},
		Want: []loadfile.RowError{
			r(P, 3, "birth_date \"1990-13-45\" is not a date"),
			r(P, 4, "duplicate national_id A*******01 (first at line 2)"),
			r(P, 5, "national_id is not 10 characters"),
			r(P, 6, "name is empty"),
			r(P, 7, "2 fields, want 3"),
			r(P, 9, "CSV syntax"),
			r(P, 10, "birth_date 1899-12-31 is outside"),
			r(L, 3, "kind \"bonus\" is not employer"),
			r(L, 4, "period \"2025-13\" is not a month"),
			r(L, 5, "amount \"3.5\" is not an integer"),
			r(L, 6, "duplicate entry_id 1 (first at line 2)"),
			r(L, 7, "unknown insured person Z*******99"),
			r(L, 8, "unknown insured person B*******02"),
			r(L, 9, "entry_id 0 is not positive"),
			r(L, 11, "amount 1000000000000 is out of range"),
			r(L, 12, "unit_name holds a control character"),
			r(I, 3, "event_date \"2010-02-30\" is not a date"),
			r(I, 4, "event_date 2027-01-01 is after the as-of date 2026-10-31"),
			r(I, 5, "kind \"quit\" is not enroll"),
			r(I, 6, "unit_name is empty"),
			r(I, 7, "insured_salary -1 is out of range"),
			r(I, 8, "duplicate entry_id 1 (first at line 2)"),
			r(I, 9, "unknown insured person X*******09"),
			r(C, 3, "pan is not 12 to 19 digits"),
			r(C, 4, "duplicate consent for institution 700 and the same PAN (first at line 2)"),
			r(C, 5, "services \"all\" is not pension"),
			r(C, 6, "status \"paused\" is not active or revoked"),
			r(C, 7, "institution \"8x2\" is not 1 to 11 digits"),
			r(C, 9, "signed_date \"2026-1-5\" is not a date"),
			r(C, 10, "national_id is not 10 characters"),
			r(C, 11, "pan is not 12 to 19 digits"),
		},
		Rows:     map[string]int64{P: 9, L: 12, I: 9, C: 10},
		Accepted: map[string]int64{P: 2, L: 3, I: 2, C: 2},
		Secrets: []string{"A100000001", "B200000002", "C10000000", "Z999999999", "X100000009", "Y123456789", "A12345678",
			"4711000000000001", "47110000ABC", "4711-0000-0000-0001", "471100000000000612345", "4711000000000006"},
	}
}

func r(file string, line int, reason string) loadfile.RowError {
	return loadfile.RowError{File: file, Line: line, Reason: reason}
}

// Check checks a loader's report of the bad set: every expected refusal
// and no other, the row counts, and no secret in any reason.
func (b BadSet) Check(t *testing.T, rep loadfile.Report) {
	t.Helper()
	if len(rep.Errors) != len(b.Want) {
		t.Errorf("%d refused rows, want %d:\n%s", len(rep.Errors), len(b.Want), listErrors(rep.Errors))
	}
	for i, w := range b.Want {
		if i >= len(rep.Errors) {
			break
		}
		g := rep.Errors[i]
		if g.File != w.File || g.Line != w.Line || !strings.Contains(g.Reason, w.Reason) {
			t.Errorf("refusal %d: %v, want %s:%d: …%s…", i, g, w.File, w.Line, w.Reason)
		}
	}
	for _, e := range rep.Errors {
		for _, s := range b.Secrets {
			if strings.Contains(e.Error(), s) {
				t.Errorf("%q in clear in %q", s, e.Error())
			}
		}
	}
	for _, f := range rep.Files {
		if f.Rows != b.Rows[f.File] || f.Accepted != b.Accepted[f.File] || f.Refused != f.Rows-f.Accepted {
			t.Errorf("%s: %d rows %d accepted %d refused, want %d %d", f.File, f.Rows, f.Accepted, f.Refused, b.Rows[f.File], b.Accepted[f.File])
		}
	}
}

func listErrors(es []loadfile.RowError) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintln(&b, e)
	}
	return b.String()
}
