package limits

import (
	"bytes"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
)

// Inquiry is what an approved (00) answer shows. Service picks the
// statement: ServiceInsurance shows Insurance, anything else Pension. A nil
// statement shows as one with no rows, as of the inquiry's date.
type Inquiry struct {
	Service         card.Service
	Name            string    // the insured person's full name; Screen and Receipt mask it
	Institution     string    // DE32
	InstitutionName string    // as configured, e.g. "Chunghwa Post 中華郵政"
	Terminal        string    // DE41
	RRN             string    // DE37
	PANLast4        string    // card.PANLast4 of DE2
	Time            time.Time // local date and time of the inquiry
	Pension         *ledger.PensionStatement
	Insurance       *ledger.InsuranceStatement
}

// The words of the layout (docs/layout.md).
const (
	titlePension       = "勞工退休金個人專戶"
	titleInsurance     = "勞工保險投保資料"
	receiptIssuer      = "勞保局 "
	labelName          = "姓名："
	labelAsOf          = "資料日期："
	labelInstitution   = "交易機構："
	labelTerminal      = "機器代號："
	labelTime          = "交易時間："
	labelRRN           = "交易參考號："
	labelPAN           = "卡號末四碼："
	labelContributions = "累計提繳金額："
	labelEarnings      = "累計運用收益金額："
	labelSeniority     = "勞保總年資："
	lagNotice          = "註：提繳資料約有三個月時間落差"
	noPension          = "目前尚無提繳資料"
	noInsurance        = "目前尚無投保資料"
	headPeriod         = "年月"
	headDate           = "日期"
	headKind           = "摘要"
	headChange         = "異動"
	headPensionUnit    = "提繳單位"
	headInsuranceUnit  = "投保單位"
	headAmount         = "金額"
	headSalary         = "薪資"
	headSalaryLong     = "投保薪資"

	// Compact forms, for profiles too narrow for the words above
	// (docs/layout.md, section 3).
	titlePensionShort   = "勞退個人專戶"
	titleInsuranceShort = "勞保投保資料"
	shortAsOf           = "截至："
	shortInstitution    = "機構："
	shortTerminal       = "機號："
	shortTime           = "時間："
	shortRRN            = "參考號："
	shortPAN            = "末四碼："
	shortContributions  = "累計提繳："
	shortEarnings       = "累計收益："
	shortSeniority      = "總年資："
	// The lag notice over two lines, where it does not fit on one.
	lagNotice1 = "註：提繳資料約有"
	lagNotice2 = "三個月時間落差"
)

const (
	maxRows = 6
	// minUnit is the width (columns) a unit name keeps before anything
	// else gives way: below it rows take two lines when there is room,
	// and the byte budget shortens unit names down to it before it drops
	// optional lines.
	minUnit = 8
	// indent of the unit name's line in two-line rows.
	indent = 2
)

// Optional lines, in the order they are kept: the lag notice is the first
// dropped, then the separators, the column header and the title.
const (
	optTitle = iota
	optHeader
	optSeparators
	optLag
	numOpts
)

// pensionKind names a pension row kind (DE62 codes 01-05).
func pensionKind(k ledger.PensionKind) string {
	switch k {
	case ledger.KindEmployer:
		return "雇主提繳"
	case ledger.KindVoluntary:
		return "個人自提"
	case ledger.KindEarnings:
		return "收益分配"
	case ledger.KindSettlement:
		return "結清移入"
	case ledger.KindAdjustment:
		return "調整"
	}
	return "其他"
}

// insuranceKind names an insurance row kind (DE62 codes 11-13).
func insuranceKind(k ledger.InsuranceKind) string {
	switch k {
	case ledger.KindEnroll:
		return "加保"
	case ledger.KindWithdraw:
		return "退保"
	case ledger.KindSalaryChange:
		return "調薪"
	}
	return "其他"
}

type row struct {
	year, month int
	date        time.Time // insurance
	code        int       // DE62 kind code
	kind        string
	unit        string // trimmed
	unitW       int
	amount      int64 // clamped amount or salary
}

// view is one inquiry prepared for layout.
type view struct {
	in      *Inquiry
	pension bool
	receipt bool
	n       int
	rows    [maxRows]row
	asOf    time.Time
	tot1    int64 // contributions (clamped)
	tot2    int64 // earnings (clamped)
	years   int
	days    int
	dateW   int
	kindW   int
	maxUnit int
}

func newView(in *Inquiry, receipt bool) view {
	v := view{in: in, receipt: receipt, pension: in.Service != card.ServiceInsurance}
	y, m, d := in.Time.Date()
	v.asOf = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if v.pension {
		v.dateW, v.kindW = 6, 8
		if st := in.Pension; st != nil {
			v.asOf = st.AsOf
			v.tot1, v.tot2 = clampAmount(st.Contributions), clampAmount(st.Earnings)
			for i := 0; i < len(st.Rows) && i < maxRows; i++ {
				r := &st.Rows[i]
				v.rows[i] = row{year: r.Year, month: r.Month, code: int(r.Kind), kind: pensionKind(r.Kind),
					unit: trimUnit(r.Unit), amount: clampAmount(r.Amount)}
				v.n++
			}
		}
	} else {
		v.dateW, v.kindW = 9, 4
		if st := in.Insurance; st != nil {
			v.asOf = st.AsOf
			v.years, v.days = st.Seniority()
			if st.SeniorityDays < 0 {
				v.years, v.days = 0, 0
			}
			v.years = min(v.years, 999)
			for i := 0; i < len(st.Rows) && i < maxRows; i++ {
				r := &st.Rows[i]
				v.rows[i] = row{date: r.Date, code: int(r.Kind), kind: insuranceKind(r.Kind),
					unit: trimUnit(r.Unit), amount: min(max(r.Salary, 0), 9_999_999)}
				v.n++
			}
		}
	}
	for i := range v.n {
		v.rows[i].unitW = Width(v.rows[i].unit)
		v.maxUnit = max(v.maxUnit, v.rows[i].unitW)
	}
	return v
}

// trimUnit drops the spaces and control characters around a unit name.
func trimUnit(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r < 0x20 || r == 0x7F })
}

// titles are the titles to try, by receipt and service (pension,
// insurance), in order of preference.
var titles = [2][2][3]string{
	{{titlePension, titlePensionShort}, {titleInsurance, titleInsuranceShort}},
	{{receiptIssuer + titlePension, receiptIssuer + titlePensionShort, titlePensionShort},
		{receiptIssuer + titleInsurance, receiptIssuer + titleInsuranceShort, titleInsuranceShort}},
}

// rowForm is how a row is laid out.
type rowForm int

const (
	// formOne: period, kind, unit name and amount on one line.
	formOne rowForm = iota
	// formTwo: period, kind and amount, then the unit name indented.
	formTwo
	// formSplit: period and kind, then the unit name indented and the
	// amount, for profiles too narrow for an amount beside the kind.
	formSplit
	// formThree: period and kind, the unit name indented, the amount.
	formThree
)

// label is a label in its full and compact forms, with their widths.
type label struct {
	full, short   string
	fullW, shortW int
}

func mkLabel(full, short string) label { return label{full, short, Width(full), Width(short)} }

var (
	lAsOf          = mkLabel(labelAsOf, shortAsOf)
	lInstitution   = mkLabel(labelInstitution, shortInstitution)
	lTerminal      = mkLabel(labelTerminal, shortTerminal)
	lTime          = mkLabel(labelTime, shortTime)
	lRRN           = mkLabel(labelRRN, shortRRN)
	lPAN           = mkLabel(labelPAN, shortPAN)
	lContributions = mkLabel(labelContributions, shortContributions)
	lEarnings      = mkLabel(labelEarnings, shortEarnings)
	lSeniority     = mkLabel(labelSeniority, shortSeniority)
)

// fieldForm is how a label and its value are laid out: the full or the
// compact label, the value beside it or on the next line.
type fieldForm struct{ short, under bool }

func (l label) text(f fieldForm) string {
	if f.short {
		return l.short
	}
	return l.full
}

func (l label) width(f fieldForm) int {
	if f.short {
		return l.shortW
	}
	return l.fullW
}

// fieldForms in order of preference: fewer lines first, then the full
// label.
var fieldForms = [...]fieldForm{{}, {short: true}, {under: true}, {short: true, under: true}}

// pickForm picks the first form in which label l and a value of the given
// width fit cols columns; when none does, the last, and false.
func pickForm(cols, valueW int, l label) (fieldForm, bool) {
	for _, f := range fieldForms {
		lw := l.width(f)
		if f.under && lw <= cols && valueW <= cols || !f.under && lw+valueW <= cols {
			return f, true
		}
	}
	return fieldForms[len(fieldForms)-1], false
}

// geometry is one way to lay the view out.
type geometry struct {
	form    rowForm
	nOpt    int // optional lines kept (a prefix of the opt* order)
	unitCap int // the widest a unit name may be shown (the byte budget lowers it)

	sep     bool // thousands separators in the rows' amounts
	aw      int  // width of the amount column
	unitCol int  // one-line and split rows: width of the unit column
	unitMax int  // two- and three-line rows: the widest unit line
	tableW  int  // right edge of amounts, totals and separators
	totSep  bool // thousands separators in the totals

	// The forms of the labelled lines, which depend on the width and on
	// the values' widths only.
	title     string    // "" when no title fits
	asOf      fieldForm // as-of date
	inst      fieldForm // receipt: institution (its code)
	term      fieldForm // receipt: terminal
	rrn       fieldForm // receipt: DE37
	pan       fieldForm // receipt: PAN digits
	clock     fieldForm // receipt: date and time (the date, when timeApart)
	timeApart bool      // receipt: the time on the line after the date
	tot       fieldForm // totals, or the seniority
	lagLines  int       // the lag notice's lines: 0 (does not fit), 1 or 2
}

func (v *view) prefixW() int { return v.dateW + 1 + v.kindW + 1 }

func (v *view) amountCol(sep bool) int {
	aw := Width(headAmount)
	for i := range v.n {
		aw = max(aw, amountWidth(v.rows[i].amount, sep))
	}
	return aw
}

// lines works out the labelled lines of geometry g for cols columns.
func (v *view) lines(g *geometry, cols int) {
	titles := &titles[b2i(v.receipt)][b2i(!v.pension)]
	g.title = ""
	for _, t := range titles {
		if t != "" && Width(t) <= cols {
			g.title = t
			break
		}
	}
	g.asOf, _ = pickForm(cols, 9, lAsOf)
	if v.receipt {
		in := v.in
		// The label that leaves room for the institution's name (or its
		// Chinese part) beside the code, else the one the code needs.
		codeW, nameW := Width(in.Institution), Width(in.InstitutionName)
		if i := strings.IndexFunc(in.InstitutionName, func(r rune) bool { return r >= utf8.RuneSelf }); i > 0 {
			nameW = Width(in.InstitutionName[i:])
		}
		if f, ok := pickForm(cols, codeW+1+nameW, lInstitution); ok && !f.under && nameW > 0 {
			g.inst = f
		} else {
			g.inst, _ = pickForm(cols, codeW, lInstitution)
		}
		g.term, _ = pickForm(cols, Width(in.Terminal), lTerminal)
		g.rrn, _ = pickForm(cols, Width(in.RRN), lRRN)
		g.pan, _ = pickForm(cols, Width(in.PANLast4), lPAN)
		var ok bool
		// 113/11/24 23:30:10 beside the label, or the time under the date.
		if g.clock, ok = pickForm(cols, 18, lTime); !ok || g.clock.under {
			g.clock, _ = pickForm(cols, 9, lTime)
			g.timeApart = true
		} else {
			g.timeApart = false
		}
	}
	if v.pension {
		// Both totals in the same form, with separators when they fit.
		g.tot, g.totSep = fieldForms[len(fieldForms)-1], false
	totals:
		for _, f := range fieldForms {
			for _, sep := range []bool{true, false} {
				if fits := func(l label, amount int64) bool {
					lw, aw := l.width(f), amountWidth(amount, sep)
					if f.under {
						return lw <= cols && aw <= cols
					}
					return lw+aw <= cols
				}; fits(lContributions, v.tot1) && fits(lEarnings, v.tot2) {
					g.tot, g.totSep = f, sep
					break totals
				}
			}
		}
		switch {
		case Width(lagNotice) <= cols:
			g.lagLines = 1
		case Width(lagNotice1) <= cols && Width(lagNotice2) <= cols:
			g.lagLines = 2
		default:
			g.lagLines = 0
		}
	} else {
		g.tot, _ = pickForm(cols, v.seniorityW(), lSeniority)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mandatory counts the lines that must show in geometry g.
func (v *view) mandatory(g *geometry) int {
	m := 2 + b2i(g.asOf.under) // name, as-of
	if v.receipt {
		// institution, terminal, date and time, DE37, PAN
		m += 5 + b2i(g.inst.under) + b2i(g.term.under) + b2i(g.rrn.under) + b2i(g.pan.under) +
			b2i(g.clock.under) + b2i(g.timeApart)
	}
	if v.pension {
		m += 2 * (1 + b2i(g.tot.under))
	} else {
		m += 1 + b2i(g.tot.under)
	}
	per := 1
	switch g.form {
	case formTwo, formSplit:
		per = 2
	case formThree:
		per = 3
	}
	if v.n == 0 {
		m++ // no data yet
	} else {
		m += per * v.n
	}
	return m
}

func (v *view) optional(g *geometry) [numOpts]int {
	var o [numOpts]int
	if g.title != "" {
		o[optTitle] = 1
	}
	if g.form == formOne && v.n > 0 {
		o[optHeader] = 1
	}
	if v.receipt {
		o[optSeparators] = 2
	}
	if v.pension {
		o[optLag] = g.lagLines
	}
	return o
}

// keep is how many optional lines (in order) fit with the mandatory ones;
// it stops at the first that does not fit.
func keep(lines, mand int, opt [numOpts]int) int {
	k, used := 0, mand
	for k < numOpts && used+opt[k] <= lines {
		used += opt[k]
		k++
	}
	return k
}

func sum(o [numOpts]int) int {
	s := 0
	for _, x := range o {
		s += x
	}
	return s
}

// oneLineUnit is the room left for the unit name in one-line rows, with
// the separator choice that goes with it.
func (v *view) oneLineUnit(cols int) (room int, sep bool) {
	withSep := cols - v.prefixW() - 1 - v.amountCol(true)
	plain := cols - v.prefixW() - 1 - v.amountCol(false)
	if withSep < min(v.maxUnit, minUnit) && plain > withSep {
		return plain, false
	}
	return withSep, true
}

// splitUnit is the room for the unit name beside the amount in split
// rows.
func (v *view) splitUnit(cols int) int {
	return cols - indent - 1 - v.amountCol(indent+min(v.maxUnit, minUnit)+1+v.amountCol(true) <= cols)
}

// plan picks the geometry and leaves its rendering in w. First the choice
// of wide profiles: two-line rows when some unit name would be shortened
// on one line and two-line rows still leave room for every optional line
// (or when one line leaves a unit name less than minUnit columns and the
// mandatory lines fit in two-line rows); one-line rows otherwise. When
// that does not hold everything (the profile is too narrow for an amount
// beside the kind, or too short), the first of these that does: two-line
// rows, split rows when they leave unit names minUnit columns, three-line
// rows, split rows, one-line rows. Optional lines are kept in order while
// they fit. When nothing fits, the first choice is the best attempt.
func (v *view) plan(w *writer, p Profile) geometry {
	base := geometry{unitCap: p.Columns}
	v.lines(&base, p.Columns)
	try := func(g *geometry) bool {
		g.nOpt = keep(p.Lines, v.mandatory(g), v.optional(g))
		v.derive(g, p)
		w.reset()
		v.render(w, g)
		return !w.lost && v.mandatory(g) <= p.Lines
	}

	first := base
	room, _ := v.oneLineUnit(p.Columns)
	needTwo := v.n > 0 && v.maxUnit > room
	two := base
	two.form = formTwo
	mand2 := v.mandatory(&two)
	if needTwo && (mand2+sum(v.optional(&two)) <= p.Lines || room < minUnit && mand2 <= p.Lines) {
		first.form = formTwo
	}
	if try(&first) {
		return first
	}
	if v.n > 0 {
		splitWide := v.splitUnit(p.Columns) >= min(v.maxUnit, minUnit)
		for i, f := range [...]rowForm{formTwo, formSplit, formThree, formSplit, formOne} {
			if f == first.form || i == 1 && !splitWide || i == 3 && splitWide {
				continue
			}
			g := base
			g.form = f
			if try(&g) {
				return g
			}
		}
	}
	try(&first)
	return first
}

func (g *geometry) has(i int, v *view) bool {
	return i < g.nOpt && v.optional(g)[i] > 0
}

// derive works out the columns of a geometry.
func (v *view) derive(g *geometry, p Profile) {
	cols := p.Columns
	rowW := 0
	switch g.form {
	case formTwo:
		g.sep = v.prefixW()+v.amountCol(true) <= cols
		g.aw = v.amountCol(g.sep)
		g.unitMax = max(0, min(cols-indent, g.unitCap, v.maxUnit))
		rowW = v.prefixW() + g.aw
	case formSplit:
		g.sep = indent+min(v.maxUnit, minUnit)+1+v.amountCol(true) <= cols
		g.aw = v.amountCol(g.sep)
		g.unitCol = max(0, min(cols-indent-1-g.aw, g.unitCap, v.maxUnit))
		rowW = max(v.prefixW()-1, indent+g.unitCol+1+g.aw)
	case formThree:
		g.sep = v.amountCol(true) <= cols
		g.aw = v.amountCol(g.sep)
		g.unitMax = max(0, min(cols-indent, g.unitCap, v.maxUnit))
		rowW = max(v.prefixW()-1, g.aw, indent+g.unitMax)
	default:
		var room int
		room, g.sep = v.oneLineUnit(cols)
		g.aw = v.amountCol(g.sep)
		want := v.maxUnit
		if g.has(optHeader, v) {
			want = max(want, Width(headPensionUnit))
		}
		g.unitCol = max(0, min(room, want, g.unitCap))
		rowW = v.prefixW() + g.unitCol + 1 + g.aw
	}
	if v.n == 0 {
		rowW = 0
	}
	var totW int
	switch {
	case v.pension && g.tot.under:
		totW = max(amountWidth(v.tot1, g.totSep), amountWidth(v.tot2, g.totSep))
	case v.pension:
		l1, l2 := lContributions.width(g.tot), lEarnings.width(g.tot)
		totW = max(l1+amountWidth(v.tot1, g.totSep), l2+amountWidth(v.tot2, g.totSep))
	case g.tot.under:
		totW = v.seniorityW()
	default:
		totW = lSeniority.width(g.tot) + v.seniorityW()
	}
	g.tableW = min(cols, max(rowW, totW))
}

func (v *view) seniorityW() int {
	return digitCount(int64(v.years)) + 2 + digitCount(int64(v.days)) + 2
}

// shrink makes a geometry that needs fewer bytes: unit names down to
// minUnit, then optional lines from the lag notice up, then one-line rows
// (from two-line rows), then unit names down to nothing. It reports false
// when nothing is left to give.
func (v *view) shrink(g *geometry, p Profile) bool {
	shown := g.unitCol
	if g.form == formTwo || g.form == formThree {
		shown = g.unitMax
	}
	switch {
	case shown > minUnit:
		g.unitCap = max(minUnit, shown-2)
	case g.nOpt > 0:
		g.nOpt--
	case g.form == formTwo:
		g.form, g.unitCap = formOne, minUnit
	case shown > 0:
		g.unitCap = max(0, shown-2)
	default:
		return false
	}
	v.derive(g, p)
	return true
}

// field starts a labelled line: the label in form f, and a new line for
// the value when f puts it under the label.
func (w *writer) field(l label, f fieldForm) {
	w.line()
	w.whole(l.text(f))
	if f.under {
		w.line()
	}
}

func (v *view) render(w *writer, g *geometry) {
	in := v.in
	if g.has(optTitle, v) {
		w.line()
		w.str(g.title)
	}
	if v.receipt {
		w.field(lInstitution, g.inst)
		w.whole(in.Institution)
		if name := in.InstitutionName; name != "" && w.room() > 1 {
			// When the configured name does not fit, its Chinese part may.
			if Width(name) > w.room()-1 {
				if i := strings.IndexFunc(name, func(r rune) bool { return r >= utf8.RuneSelf }); i > 0 {
					name = name[i:]
				}
			}
			w.spaces(1)
			w.str(name)
		}
		w.field(lTerminal, g.term)
		w.whole(in.Terminal)
		w.field(lTime, g.clock)
		t := in.Time
		if g.timeApart {
			at := w.col
			w.atom(func(b []byte) []byte { return appendROCDate(b, t, true) })
			w.line()
			if at+8 <= w.cols {
				w.padTo(at)
			}
			w.atom(func(b []byte) []byte { return appendClock(b, t) })
		} else {
			w.atom(func(b []byte) []byte { return appendClock(append(appendROCDate(b, t, true), ' '), t) })
		}
		w.field(lRRN, g.rrn)
		w.whole(in.RRN)
		w.field(lPAN, g.pan)
		w.whole(in.PANLast4)
	}
	w.line()
	w.whole(labelName)
	full, wrote := false, false
	maskName(in.Name, func(r rune) {
		if !full && !w.rune(r) {
			full = true
		}
		wrote = wrote || !full
	})
	if !wrote && strings.TrimSpace(MaskName(in.Name)) != "" {
		w.lost = true
	}
	w.field(lAsOf, g.asOf)
	asOf := v.asOf
	w.atom(func(b []byte) []byte { return appendROCDate(b, asOf, true) })

	if g.has(optSeparators, v) {
		w.line()
		w.rule(w.cols)
	}
	switch {
	case v.n == 0 && v.pension:
		w.line()
		w.whole(noPension)
	case v.n == 0:
		w.line()
		w.whole(noInsurance)
	default:
		if g.has(optHeader, v) {
			v.header(w, g)
		}
		for i := range v.n {
			v.row(w, g, &v.rows[i])
		}
	}
	if g.has(optSeparators, v) {
		w.line()
		w.rule(w.cols)
	}
	if v.pension {
		w.field(lContributions, g.tot)
		w.padTo(g.tableW - amountWidth(v.tot1, g.totSep))
		w.amount(v.tot1, g.totSep)
		w.field(lEarnings, g.tot)
		w.padTo(g.tableW - amountWidth(v.tot2, g.totSep))
		w.amount(v.tot2, g.totSep)
	} else {
		w.field(lSeniority, g.tot)
		w.padTo(g.tableW - v.seniorityW())
		years, days, t := int64(v.years), int64(v.days), w.t
		w.atom(func(b []byte) []byte {
			b = t.appendRune(appendDigits(b, years, 1), '年')
			return t.appendRune(appendDigits(b, days, 1), '日')
		})
	}
	if g.has(optLag, v) {
		if g.lagLines == 1 {
			w.line()
			w.str(lagNotice)
		} else {
			w.line()
			w.str(lagNotice1)
			w.line()
			w.str(lagNotice2)
		}
	}
}

func (v *view) header(w *writer, g *geometry) {
	w.line()
	unit, amount := headPensionUnit, headAmount
	if v.pension {
		w.str(headPeriod)
	} else {
		w.str(headDate)
		unit, amount = headInsuranceUnit, headSalary
		if g.aw >= Width(headSalaryLong) {
			amount = headSalaryLong
		}
	}
	w.padTo(v.dateW + 1)
	if v.pension {
		w.str(headKind)
	} else {
		w.str(headChange)
	}
	w.padTo(v.prefixW())
	w.text(unit, g.unitCol)
	w.padTo(v.prefixW() + g.unitCol + 1)
	w.padTo(g.tableW - Width(amount))
	w.str(amount)
}

func (v *view) row(w *writer, g *geometry, r *row) {
	w.line()
	if v.pension {
		y, m := r.year, r.month
		w.atom(func(b []byte) []byte { return appendROCMonth(b, y, m, true) })
	} else {
		d := r.date
		w.atom(func(b []byte) []byte { return appendROCDate(b, d, true) })
	}
	w.padTo(v.dateW + 1)
	w.whole(r.kind)
	switch g.form {
	case formTwo:
		// A space at least between the kind and the amount, or no amount
		// (and the layout is incomplete).
		w.padTo(max(v.prefixW(), g.tableW-amountWidth(r.amount, g.sep)))
		w.amount(r.amount, g.sep)
		w.line()
		w.spaces(indent)
		w.text(r.unit, g.unitMax)
	case formSplit:
		w.line()
		w.spaces(indent)
		w.text(r.unit, g.unitCol)
		w.padTo(indent + g.unitCol + 1)
		w.padTo(g.tableW - amountWidth(r.amount, g.sep))
		w.amount(r.amount, g.sep)
	case formThree:
		w.line()
		w.spaces(indent)
		w.text(r.unit, g.unitMax)
		w.line()
		w.padTo(g.tableW - amountWidth(r.amount, g.sep))
		w.amount(r.amount, g.sep)
	default:
		w.padTo(v.prefixW())
		w.text(r.unit, g.unitCol)
		w.padTo(v.prefixW() + g.unitCol + 1)
		w.padTo(g.tableW - amountWidth(r.amount, g.sep))
		w.amount(r.amount, g.sep)
	}
}

// layout renders an approved answer within p and the MaxText bytes, and
// reports whether it holds everything that must show (see Validate).
func layout(p Profile, in *Inquiry, receipt bool) ([]byte, bool) {
	if p.Columns <= 0 || p.Lines <= 0 {
		return []byte{}, false
	}
	v := newView(in, receipt)
	w := newWriter(p, make([]byte, 0, max(0, min(p.Lines*(p.Columns+1), MaxText+1))))
	g := v.plan(&w, p)
	for len(w.b) > MaxText {
		if !v.shrink(&g, p) {
			return cutLines(w.b, MaxText), false
		}
		w.reset()
		v.render(&w, &g)
	}
	return w.b, !w.lost
}

// cutLines drops whole lines from the end until b is at most n bytes.
func cutLines(b []byte, n int) []byte {
	for len(b) > n {
		i := bytes.LastIndexByte(b, '\n')
		if i < 0 {
			return TruncateBig5(b, n)
		}
		b = b[:i]
	}
	return b
}

// Screen renders DE61 of an approved (00) answer for the screen profile
// p: title, masked name, as-of date, the rows (up to six) and the totals
// (or the seniority), then the lag notice; with no rows, a line saying
// there is no data yet. See docs/layout.md for the lines, their narrow
// forms and what gives way when p is short. The result is Big5 (CP950), LF
// between lines, no LF after the last; it never breaks p's limits or
// MaxText.
func Screen(p Profile, in Inquiry) []byte {
	b, _ := layout(p, &in, false)
	return b
}

// Receipt renders DE63 of an approved answer for the receipt profile p: the
// screen's content plus institution, terminal, date and time, DE37 and the
// last four digits of the PAN.
func Receipt(p Profile, in Inquiry) []byte {
	b, _ := layout(p, &in, true)
	return b
}

// breakAfter are the characters a message line may end with when it wraps.
func breakAfter(r rune) bool {
	switch r {
	case ' ', '，', '。', '、', '；', '：', '！', '？', '）', '」', ',', '.', ';', ':', '!', '?', ')':
		return true
	}
	return false
}

// noLineStart are the characters a wrapped line should not start with.
func noLineStart(r rune) bool {
	switch r {
	case '，', '。', '、', '；', '：', '！', '？', '）', '」', ',', '.', ';', ':', '!', '?', ')':
		return true
	}
	return false
}

// wrapAt picks where to end a line of s, which is longer than the line:
// n bytes of it fit. It prefers the last break opportunity in the second
// half of the line, and otherwise keeps closing punctuation off the start
// of the next line.
func wrapAt(s string, n, cols int) int {
	best, width := 0, 0
	for i, r := range s[:n] {
		width += runeWidth(r)
		if breakAfter(r) && 2*width >= cols {
			best = i + utf8.RuneLen(r)
		}
	}
	if best > 0 {
		return best
	}
	if next, _ := utf8.DecodeRuneInString(s[n:]); noLineStart(next) {
		if _, size := utf8.DecodeLastRuneInString(s[:n]); size < n {
			return n - size
		}
	}
	return n
}

// Message renders DE61 for a decline or any other short message: text
// (UTF-8; LF starts a new line) wrapped to p's columns, preferably after
// punctuation or a space, never cutting a character, and cut after p's
// last line.
func Message(p Profile, text string) []byte {
	if p.Columns <= 0 || p.Lines <= 0 {
		return []byte{}
	}
	text = strings.TrimRight(text, "\n")
	w := newWriter(p, make([]byte, 0, max(0, min(len(text)+p.Lines, MaxText+1))))
	for more := true; more && !w.off; {
		var para string
		para, text, more = strings.Cut(text, "\n")
		para = strings.TrimRight(para, " \r")
		if para == "" {
			w.line()
			continue
		}
		for para != "" && !w.off {
			n, _ := fitLen(para, p.Columns)
			if n == 0 { // a double-byte character on a one-column profile
				_, size := utf8.DecodeRuneInString(para)
				para = para[size:]
				continue
			}
			if n < len(para) {
				n = wrapAt(para, n, p.Columns)
			}
			w.line()
			w.str(strings.TrimRight(para[:n], " "))
			para = strings.TrimLeft(para[n:], " ")
		}
	}
	return cutLines(w.b, MaxText)
}
