package limits

import (
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// Unit names that test the layout: long, and with characters CP950 lacks.
const (
	unitTSMC     = "台灣積體電路製造股份有限公司"
	unitLong     = "財團法人中華民國台灣省私立高雄縣某某某某社會福利慈善事業基金會附設托兒所"
	unitNonBig5  = "𠀋記😀小吃店"
	unitHKSCS    = "堃犇企業社 ACME Ltd."
	unitEarnings = "勞動部勞動基金運用局"
)

type partnerProfile struct {
	file, institution, prefix, name, terminal string
	pair                                      Pair
}

// partnerProfiles are the six partners' profiles of the example
// configuration (configs/atmgw.example.yaml).
func partnerProfiles() []partnerProfile {
	return []partnerProfile{
		{"005", "005", "", "Land Bank of Taiwan 土地銀行", "ATM00501", Pair{Profile{40, 16}, Profile{40, 24}}},
		{"007", "007", "", "First Bank 第一銀行", "ATM00701", Pair{Profile{48, 16}, Profile{36, 30}}},
		{"012", "012", "", "Taipei Fubon Bank 台北富邦銀行", "ATM01201", Pair{Profile{40, 18}, Profile{42, 28}}},
		{"808", "808", "", "E.SUN Bank 玉山銀行", "ATM80801", Pair{Profile{44, 16}, Profile{40, 26}}},
		{"812", "812", "", "Taishin Bank 台新銀行", "ATM81201", Pair{Profile{40, 16}, Profile{32, 32}}},
		{"700", "700", "", "Chunghwa Post 中華郵政", "ATM70001", Pair{Profile{40, 16}, Profile{40, 24}}},
		{"700-KSK", "700", "KSK", "Chunghwa Post 中華郵政", "KSK70001", Pair{Profile{32, 20}, Profile{32, 30}}},
	}
}

// narrowProfiles are narrow screens and receipts, as Chunghwa Post's, for
// the goldens of the narrow layouts (docs/layout.md, section 3).
func narrowProfiles() []partnerProfile {
	return []partnerProfile{
		{"narrow-20", "700", "", "Chunghwa Post 中華郵政", "ATM70001", Pair{Profile{20, 18}, Profile{20, 30}}},
		{"narrow-24", "700", "", "Chunghwa Post 中華郵政", "ATM70001", Pair{Profile{24, 16}, Profile{24, 24}}},
		{"narrow-32", "700", "", "Chunghwa Post 中華郵政", "ATM70001", Pair{Profile{32, 12}, Profile{32, 18}}},
	}
}

func date(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func inquiryTime() time.Time {
	return time.Date(2024, 11, 24, 23, 30, 10, 0, time.FixedZone("CST", 8*3600))
}

// pensionFull has six rows: long unit names, characters outside CP950,
// a negative adjustment and a seven-digit settlement.
func pensionFull() *ledger.PensionStatement {
	return &ledger.PensionStatement{
		AsOf: date(2024, 10, 31),
		Rows: []ledger.PensionRow{
			{EntryID: 16, Year: 2024, Month: 8, Kind: ledger.KindEmployer, Unit: unitTSMC, Amount: 6000},
			{EntryID: 15, Year: 2024, Month: 8, Kind: ledger.KindVoluntary, Unit: unitTSMC, Amount: 3000},
			{EntryID: 14, Year: 2024, Month: 7, Kind: ledger.KindAdjustment, Unit: unitLong, Amount: -1200},
			{EntryID: 13, Year: 2024, Month: 6, Kind: ledger.KindEarnings, Unit: unitEarnings, Amount: 812},
			{EntryID: 12, Year: 2024, Month: 5, Kind: ledger.KindSettlement, Unit: unitNonBig5, Amount: 1234567},
			{EntryID: 11, Year: 2024, Month: 4, Kind: ledger.KindEmployer, Unit: unitHKSCS, Amount: 5826},
		},
		Contributions: 1345678,
		Earnings:      45678,
	}
}

func insuranceFull() *ledger.InsuranceStatement {
	return &ledger.InsuranceStatement{
		AsOf: date(2024, 10, 31),
		Rows: []ledger.InsuranceRow{
			{EntryID: 26, Date: date(2024, 9, 2), Kind: ledger.KindSalaryChange, Unit: unitTSMC, Salary: 45800},
			{EntryID: 25, Date: date(2024, 3, 7), Kind: ledger.KindEnroll, Unit: unitTSMC, Salary: 42000},
			{EntryID: 24, Date: date(2024, 3, 6), Kind: ledger.KindWithdraw, Unit: unitLong, Salary: 27470},
			{EntryID: 23, Date: date(2020, 1, 15), Kind: ledger.KindEnroll, Unit: unitLong, Salary: 26400},
			{EntryID: 22, Date: date(2019, 12, 31), Kind: ledger.KindWithdraw, Unit: unitNonBig5, Salary: 25200},
			{EntryID: 21, Date: date(2015, 7, 1), Kind: ledger.KindEnroll, Unit: unitHKSCS, Salary: 20008},
		},
		SeniorityDays: 12*365 + 187,
	}
}

func inquiryFor(pp partnerProfile, svc card.Service, empty bool) Inquiry {
	in := Inquiry{
		Service:         svc,
		Name:            "歐陽建堃",
		Institution:     pp.institution,
		InstitutionName: pp.name,
		Terminal:        pp.terminal,
		RRN:             "261124000003",
		PANLast4:        "9014",
		Time:            inquiryTime(),
	}
	switch {
	case svc == card.ServicePension && empty:
		in.Pension = &ledger.PensionStatement{AsOf: date(2024, 10, 31)}
	case svc == card.ServicePension:
		in.Pension = pensionFull()
	case empty:
		in.Name = "王小明"
		in.Insurance = &ledger.InsuranceStatement{AsOf: date(2024, 10, 31)}
	default:
		in.Name = "王小明"
		in.Insurance = insuranceFull()
	}
	return in
}
