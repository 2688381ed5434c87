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

// geometry is one way to lay the view out.
type geometry struct {
	two     bool // rows take two lines: date, kind and amount, then the unit name
	nOpt    int  // optional lines kept (a prefix of the opt* order)
	unitCap int  // the widest a unit name may be shown (the byte budget lowers it)

	sep     bool // thousands separators in the rows' amounts
	aw      int  // width of the amount column
	unitCol int  // one-line rows: width of the unit column
	unitMax int  // two-line rows: the widest unit line
	tableW  int  // right edge of amounts, totals and separators
	totSep  bool // thousands separators in the totals
}

func (v *view) prefixW() int { return v.dateW + 1 + v.kindW + 1 }

func (v *view) amountCol(sep bool) int {
	aw := Width(headAmount)
	for i := range v.n {
		aw = max(aw, amountWidth(v.rows[i].amount, sep))
	}
	return aw
}

func (v *view) mandatory(two bool) int {
	m := 2 // name, as-of
	if v.receipt {
		m += 5 // institution, terminal, date and time, DE37, PAN
	}
	if v.pension {
		m += 2
	} else {
		m++
	}
	switch {
	case v.n == 0:
		m++ // no data yet
	case two:
		m += 2 * v.n
	default:
		m += v.n
	}
	return m
}

func (v *view) optional(two bool) [numOpts]int {
	var o [numOpts]int
	o[optTitle] = 1
	if !two && v.n > 0 {
		o[optHeader] = 1
	}
	if v.receipt {
		o[optSeparators] = 2
	}
	if v.pension {
		o[optLag] = 1
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

// plan picks the geometry: two-line rows when some unit name would be
// shortened on one line and two-line rows still leave room for every
// optional line (or when one line leaves a unit name less than minUnit
// columns and the mandatory lines fit in two-line rows); one-line rows
// otherwise. Optional lines are kept in order while they fit.
func (v *view) plan(p Profile) geometry {
	room, _ := v.oneLineUnit(p.Columns)
	needTwo := v.n > 0 && v.maxUnit > room
	mand2, opt2 := v.mandatory(true), v.optional(true)
	g := geometry{unitCap: p.Columns}
	switch {
	case needTwo && mand2+sum(opt2) <= p.Lines:
		g.two, g.nOpt = true, numOpts
	case needTwo && room < minUnit && mand2 <= p.Lines:
		g.two, g.nOpt = true, keep(p.Lines, mand2, opt2)
	default:
		g.nOpt = keep(p.Lines, v.mandatory(false), v.optional(false))
	}
	v.derive(&g, p)
	return g
}

func (g *geometry) has(i int, v *view) bool {
	return i < g.nOpt && v.optional(g.two)[i] > 0
}

// derive works out the columns of a geometry.
func (v *view) derive(g *geometry, p Profile) {
	cols := p.Columns
	rowW := 0
	if g.two {
		g.sep = v.prefixW()+v.amountCol(true) <= cols
		g.aw = v.amountCol(g.sep)
		g.unitMax = max(0, min(cols-indent, g.unitCap, v.maxUnit))
		rowW = v.prefixW() + g.aw
	} else {
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
	if v.pension {
		l1, l2 := Width(labelContributions), Width(labelEarnings)
		g.totSep = l1+amountWidth(v.tot1, true) <= cols && l2+amountWidth(v.tot2, true) <= cols
		totW = max(l1+amountWidth(v.tot1, g.totSep), l2+amountWidth(v.tot2, g.totSep))
	} else {
		totW = Width(labelSeniority) + v.seniorityW()
	}
	g.tableW = min(cols, max(rowW, totW))
}

func (v *view) seniorityW() int {
	return digitCount(int64(v.years)) + 2 + digitCount(int64(v.days)) + 2
}

// shrink makes a geometry that needs fewer bytes: unit names down to
// minUnit, then optional lines from the lag notice up, then one-line rows,
// then unit names down to nothing. It reports false when nothing is left
// to give.
func (v *view) shrink(g *geometry, p Profile) bool {
	shown := g.unitCol
	if g.two {
		shown = g.unitMax
	}
	switch {
	case shown > minUnit:
		g.unitCap = max(minUnit, shown-2)
	case g.nOpt > 0:
		g.nOpt--
	case g.two:
		g.two, g.unitCap = false, minUnit
	case shown > 0:
		g.unitCap = max(0, shown-2)
	default:
		return false
	}
	v.derive(g, p)
	return true
}

func (v *view) render(w *writer, g *geometry) {
	in := v.in
	if g.has(optTitle, v) {
		w.line()
		if v.receipt {
			w.str(receiptIssuer)
		}
		if v.pension {
			w.str(titlePension)
		} else {
			w.str(titleInsurance)
		}
	}
	if v.receipt {
		w.line()
		w.str(labelInstitution)
		w.str(in.Institution)
		if name := in.InstitutionName; name != "" {
			// When the configured name does not fit, its Chinese part may.
			if Width(name) > w.room()-1 {
				if i := strings.IndexFunc(name, func(r rune) bool { return r >= utf8.RuneSelf }); i > 0 {
					name = name[i:]
				}
			}
			w.spaces(1)
			w.str(name)
		}
		w.line()
		w.str(labelTerminal)
		w.whole(in.Terminal)
		w.line()
		w.str(labelTime)
		t := in.Time
		w.atom(func(b []byte) []byte { return appendClock(append(appendROCDate(b, t, true), ' '), t) })
		w.line()
		w.str(labelRRN)
		w.whole(in.RRN)
		w.line()
		w.str(labelPAN)
		w.whole(in.PANLast4)
	}
	w.line()
	w.str(labelName)
	full := false
	maskName(in.Name, func(r rune) {
		if !full && !w.rune(r) {
			full = true
		}
	})
	w.line()
	w.str(labelAsOf)
	asOf := v.asOf
	w.atom(func(b []byte) []byte { return appendROCDate(b, asOf, true) })

	if g.has(optSeparators, v) {
		w.line()
		w.rule(w.cols)
	}
	switch {
	case v.n == 0 && v.pension:
		w.line()
		w.str(noPension)
	case v.n == 0:
		w.line()
		w.str(noInsurance)
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
		w.line()
		w.str(labelContributions)
		w.padTo(g.tableW - amountWidth(v.tot1, g.totSep))
		w.amount(v.tot1, g.totSep)
		w.line()
		w.str(labelEarnings)
		w.padTo(g.tableW - amountWidth(v.tot2, g.totSep))
		w.amount(v.tot2, g.totSep)
	} else {
		w.line()
		w.str(labelSeniority)
		w.padTo(g.tableW - v.seniorityW())
		years, days, t := int64(v.years), int64(v.days), w.t
		w.atom(func(b []byte) []byte {
			b = t.appendRune(appendDigits(b, years, 1), '年')
			return t.appendRune(appendDigits(b, days, 1), '日')
		})
	}
	if g.has(optLag, v) && Width(lagNotice) <= w.cols {
		w.line()
		w.str(lagNotice)
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
	w.str(r.kind)
	if g.two {
		w.padTo(g.tableW - amountWidth(r.amount, g.sep))
		w.amount(r.amount, g.sep)
		w.line()
		w.spaces(indent)
		w.text(r.unit, g.unitMax)
		return
	}
	w.padTo(v.prefixW())
	w.text(r.unit, g.unitCol)
	w.padTo(v.prefixW() + g.unitCol + 1)
	w.padTo(g.tableW - amountWidth(r.amount, g.sep))
	w.amount(r.amount, g.sep)
}

// layout renders an approved answer within p and the MaxText bytes.
func layout(p Profile, in *Inquiry, receipt bool) []byte {
	if p.Columns <= 0 || p.Lines <= 0 {
		return []byte{}
	}
	v := newView(in, receipt)
	w := newWriter(p, make([]byte, 0, max(0, min(p.Lines*(p.Columns+1), MaxText+1))))
	g := v.plan(p)
	for {
		v.render(&w, &g)
		if len(w.b) <= MaxText {
			return w.b
		}
		if !v.shrink(&g, p) {
			return cutLines(w.b, MaxText)
		}
		w.reset()
	}
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
// there is no data yet. See docs/layout.md for the lines and what gives way
// when p is short. The result is Big5 (CP950), LF between lines, no LF
// after the last; it never breaks p's limits or MaxText.
func Screen(p Profile, in Inquiry) []byte { return layout(p, &in, false) }

// Receipt renders DE63 of an approved answer for the receipt profile p: the
// screen's content plus institution, terminal, date and time, DE37 and the
// last four digits of the PAN.
func Receipt(p Profile, in Inquiry) []byte { return layout(p, &in, true) }

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
