package gen

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/bli/atmgw/sim/cards"
)

// worker generates chunks; its scratch space is reused across persons.
type worker struct {
	g       *model
	jobs    []job
	pension []pensionRow
	contrib map[int]int64
}

type raise struct {
	day  int
	wage int64
}

type job struct {
	unit   string
	start  int // enrolment day
	end    int // withdrawal day (not covered); > as-of: still employed
	second bool
	wages  []raise // wages[0].day == start
}

func (j *job) open(asOf int) bool { return j.end > asOf }

func (j *job) wageAt(day int) int64 {
	w := j.wages[0].wage
	for _, r := range j.wages[1:] {
		if r.day > day {
			break
		}
		w = r.wage
	}
	return w
}

type pensionRow struct {
	id     int64
	period int // year*12 + month-1
	kind   string
	unit   string
	amount int64
}

// Pension entry-id slots: rows posted in the same month by one person.
const (
	slotEmployer     = iota // main jobs alternate between these two: in the
	slotEmployerNext        // month of a job change both employers pay
	slotSecondEmployer
	slotVoluntary
	slotVoluntaryNext
	slotEarnings
	slotSettlement
	slotAdjustment
	pensionSlots
)

// Insurance entry-id slots: events of one person on one day, in the order
// they happened (a withdrawal before the enrolment at the next unit).
const (
	slotWithdraw = iota
	slotEnroll
	slotSalary
	slotSecondWithdraw
	slotSecondEnroll
	insuranceSlots
)

const (
	newSystemStart = 2005*12 + 6 // 2005-07, the labor pension new system
	pensionBase    = 2005 * 12   // month index 0 of the pension entry ids
	dayBase        = -25567      // 1900-01-01, day index 0 of the insurance entry ids
)

func (g *model) newWorker() *worker {
	return &worker{g: g, contrib: map[int]int64{}}
}

func (w *worker) fill(c *chunk) {
	for i := c.start; i < c.end; i++ {
		w.person(c, int64(i))
	}
}

// minWage approximates the monthly minimum wage of a year (15,840 in 2005,
// growing about 3 % a year).
func minWage(year int) float64 { return 15840 * math.Pow(1.031, float64(year-2005)) }

func (w *worker) person(c *chunk, i int64) {
	g := w.g
	r := rand.New(rand.NewPCG(g.o.Seed, uint64(i)+1))
	id := g.nationalID(i)
	female := id[1] == '2'
	name := personName(r, female)

	asOfY, _, _ := civilFromDays(g.asOf)
	age := 20 + r.IntN(51) // 20..70 at the as-of date
	birth := daysFromCivil(asOfY-age, 1, 1) + r.IntN(365)
	by, bm, bd := civilFromDays(birth)
	birthStr := dateString(by, bm, bd)

	b := &c.buf[fPersons]
	*b = append(*b, id...)
	*b = append(*b, ',')
	*b = appendCSV(*b, name)
	*b = append(*b, ',')
	*b = append(*b, birthStr...)
	*b = append(*b, '\n')

	w.career(r, birth)
	w.insurance(c, i, id)
	w.pensionRows(c, r, i, id)
	w.consents(c, r, i, id, name, birth)
}

func personName(r *rand.Rand, female bool) string {
	total := 0
	for _, s := range surnames {
		total += s.w
	}
	x := r.IntN(total)
	sur := surnames[0].s
	for _, s := range surnames {
		if x < s.w {
			sur = s.s
			break
		}
		x -= s.w
	}
	pool := givenMale
	if female {
		pool = givenFemale
	}
	n := 2
	if r.IntN(100) < 12 {
		n = 1
	}
	name := sur
	for k := range n {
		if k == n-1 && r.IntN(500) == 0 {
			name += rareGiven[r.IntN(len(rareGiven))]
			continue
		}
		name += pool[r.IntN(len(pool))]
	}
	return name
}

func (w *worker) unit(r *rand.Rand) string {
	u := r.Float64()
	return w.g.units[int(u*u*u*float64(len(w.g.units)))]
}

// career fills w.jobs: the person's employments within the window.
func (w *worker) career(r *rand.Rand, birth int) {
	g := w.g
	w.jobs = w.jobs[:0]
	if r.IntN(100) < 4 {
		return // never insured within the window: approved with no rows
	}
	start := birth + 365*18 + r.IntN(365*7)
	if start < g.window {
		start = g.window + r.IntN(60)
	}
	if start >= g.asOf-20 {
		return
	}
	// Wage relative to the minimum wage: a personal level that grows.
	level := 1.05 + math.Abs(r.NormFloat64())*0.9
	parttime := false
	day := start
	for day < g.asOf {
		var months int
		switch u := r.IntN(10); {
		case u < 3:
			months = 3 + r.IntN(22)
		case u < 7:
			months = 24 + r.IntN(73)
		default:
			months = 96 + r.IntN(205)
		}
		end := day + months*30 + r.IntN(30)
		y, _, _ := civilFromDays(day)
		j := job{unit: w.unit(r), start: day, end: end}
		wage := int64(minWage(y) * level)
		j.wages = append(j.wages[:0:0], raise{day, wage})
		for t := day + 330 + r.IntN(70); t < end && t <= g.asOf; t += 330 + r.IntN(70) {
			if r.IntN(10) < 7 {
				wage = wage * int64(102+r.IntN(7)) / 100
				j.wages = append(j.wages, raise{t, wage})
			}
		}
		w.jobs = append(w.jobs, j)
		// A part-time job beside a long one, at another unit (one at most).
		if months > 24 && !parttime && r.IntN(100) < 7 {
			parttime = true
			s := day + 30 + r.IntN(months*15)
			e := s + 90 + r.IntN(600)
			if s < g.asOf {
				sy, _, _ := civilFromDays(s)
				pw := int64(minWage(sy) * (0.5 + r.Float64()*0.4))
				w.jobs = append(w.jobs, job{unit: w.unit(r), start: s, end: e, second: true,
					wages: []raise{{s, pw}}})
			}
		}
		if end > g.asOf {
			break
		}
		if r.IntN(100) < 6 {
			break // left the workforce
		}
		level *= 1 + r.Float64()*0.15 // a job change often pays more
		if r.IntN(10) < 4 {
			day = end // changed jobs the same day
		} else {
			day = end + 7 + r.IntN(700)
		}
	}
}

func (w *worker) insurance(c *chunk, i int64, id string) {
	g := w.g
	emit := func(day, slot int, kind, unit string, salary int64) {
		y, m, d := civilFromDays(day)
		eid := (int64(day-dayBase)*insuranceSlots+int64(slot))*g.n + i + 1
		b := &c.buf[fInsurance]
		*b = strconv.AppendInt(*b, eid, 10)
		*b = append(*b, ',')
		*b = append(*b, id...)
		*b = append(*b, ',')
		*b = append(*b, dateString(y, m, d)...)
		*b = append(*b, ',')
		*b = append(*b, kind...)
		*b = append(*b, ',')
		*b = appendCSV(*b, unit)
		*b = append(*b, ',')
		*b = strconv.AppendInt(*b, salary, 10)
		*b = append(*b, '\n')
		c.insurance++
	}
	for k := range w.jobs {
		j := &w.jobs[k]
		slot := func(s int) int {
			if !j.second {
				return s
			}
			if s == slotWithdraw {
				return slotSecondWithdraw
			}
			return slotSecondEnroll // a part-time job has no raises
		}
		sal := gradeUp(j.wages[0].wage, insuranceCap)
		emit(j.start, slot(slotEnroll), "enroll", j.unit, sal)
		for _, rz := range j.wages[1:] {
			if rz.day >= j.end || rz.day > g.asOf {
				break
			}
			if s := gradeUp(rz.wage, insuranceCap); s != sal {
				sal = s
				emit(rz.day, slot(slotSalary), "salary_change", j.unit, sal)
			}
		}
		if !j.open(g.asOf) {
			emit(j.end, slot(slotWithdraw), "withdraw", j.unit, sal)
		}
	}
}

func (w *worker) pensionRows(c *chunk, r *rand.Rand, i int64, id string) {
	g := w.g
	w.pension = w.pension[:0]
	clear(w.contrib)
	add := func(period, posted, slot int, kind, unit string, amount int64) {
		if posted > g.asOfMonth || period < newSystemStart {
			return
		}
		eid := (int64(posted-pensionBase)*pensionSlots+int64(slot))*g.n + i + 1
		w.pension = append(w.pension, pensionRow{eid, period, kind, unit, amount})
		if kind != "earnings" {
			w.contrib[period/12] += amount
		}
	}
	voluntary := 0
	volFrom := 0
	if r.IntN(100) < 14 {
		voluntary = 1 + r.IntN(6)
		volFrom = newSystemStart + r.IntN(max(1, g.lagEnd-newSystemStart))
	}
	first := newSystemStart
	if wm := monthOfDay(g.window); wm > first {
		first = wm
	}
	mainJobs := 0
	for k := range w.jobs {
		j := &w.jobs[k]
		from := max(monthOfDay(j.start), first)
		to := min(monthOfDay(j.end-1), g.lagEnd)
		slot, vslot := slotEmployer+mainJobs%2, slotVoluntary+mainJobs%2
		if j.second {
			slot = slotSecondEmployer
		} else {
			mainJobs++
		}
		for m := from; m <= to; m++ {
			// A month partly covered pays for the days covered.
			m0, m1 := firstDayOfMonth(m), firstDayOfMonth(m+1)
			d0, d1 := max(m0, j.start), min(m1, j.end)
			pw := gradeUp(j.wageAt(d0), grades[len(grades)-1]) * int64(d1-d0) / int64(m1-m0)
			posted := m + 2
			add(m, posted, slot, "employer", j.unit, (pw*6+50)/100)
			if voluntary > 0 && !j.second && m >= volFrom {
				add(m, posted, vslot, "voluntary", j.unit, (pw*int64(voluntary)+50)/100)
			}
		}
	}
	// Old-system seniority settled and moved in, for some who worked before 2005-07.
	if len(w.jobs) > 0 && monthOfDay(w.jobs[0].start) < newSystemStart && r.IntN(100) < 30 {
		m := newSystemStart + r.IntN(90)
		if m <= g.lagEnd {
			add(m, m, slotSettlement, "settlement", w.unitAt(m), int64(20000+r.IntN(780000)))
		}
	}
	// The odd correction, either way.
	if len(w.pension) > 0 && r.IntN(100) < 4 {
		p := w.pension[r.IntN(len(w.pension))]
		amt := int64(r.IntN(3000)) - 1500
		if amt == 0 {
			amt = -1
		}
		add(p.period, p.period+3, slotAdjustment, "adjustment", p.unit, amt)
	}
	// Yearly earnings on the balance, posted in May of the next year.
	if len(w.pension) > 0 {
		asOfY := g.asOfMonth / 12
		var balance int64
		for y := newSystemStart / 12; y < asOfY; y++ {
			balance += w.contrib[y]
			if balance <= 0 {
				continue
			}
			earn := balance * rateOf(y) / 1000
			if earn == 0 {
				continue
			}
			unit := "勞動部勞動基金運用局"
			add(y*12+11, (y+1)*12+4, slotEarnings, "earnings", unit, earn)
			balance += earn
		}
	}
	for _, p := range w.pension {
		b := &c.buf[fPension]
		*b = strconv.AppendInt(*b, p.id, 10)
		*b = append(*b, ',')
		*b = append(*b, id...)
		*b = append(*b, ',')
		*b = appendInt(*b, p.period/12, 4)
		*b = append(*b, '-')
		*b = appendInt(*b, p.period%12+1, 2)
		*b = append(*b, ',')
		*b = append(*b, p.kind...)
		*b = append(*b, ',')
		*b = appendCSV(*b, p.unit)
		*b = append(*b, ',')
		*b = strconv.AppendInt(*b, p.amount, 10)
		*b = append(*b, '\n')
	}
	c.pension += int64(len(w.pension))
}

// unitAt is the unit of the main job covering a month (or the first job).
func (w *worker) unitAt(month int) string {
	for k := range w.jobs {
		j := &w.jobs[k]
		if !j.second && monthOfDay(j.start) <= month && month <= monthOfDay(j.end-1) {
			return j.unit
		}
	}
	return w.jobs[0].unit
}

// Consent states and what each answers (pension, insurance).
type consentState struct {
	note                string
	services            string
	status              string
	pension, insurance  string
	nameDiff, birthDiff bool
}

var consentStates = []struct {
	w int
	s consentState
}{
	{700, consentState{note: "both services", services: "both", status: "active", pension: "00", insurance: "00"}},
	{100, consentState{note: "pension only", services: "pension", status: "active", pension: "00", insurance: "57"}},
	{80, consentState{note: "insurance only", services: "insurance", status: "active", pension: "57", insurance: "00"}},
	{60, consentState{note: "revoked", services: "both", status: "revoked", pension: "57", insurance: "57"}},
	{30, consentState{note: "name differs", services: "both", status: "active", pension: "25", insurance: "25", nameDiff: true}},
	{30, consentState{note: "birth date differs", services: "both", status: "active", pension: "25", insurance: "25", birthDiff: true}},
}

func pickState(r *rand.Rand) consentState {
	x := r.IntN(1000)
	for _, s := range consentStates {
		if x < s.w {
			return s.s
		}
		x -= s.w
	}
	return consentStates[0].s
}

func (g *model) pickInstitution(r *rand.Rand, not string) string {
	for {
		x := r.IntN(g.instWeight)
		for _, in := range institutions {
			if x < in.weight {
				if in.code != not {
					return in.code
				}
				break
			}
			x -= in.weight
		}
	}
}

// Card numbers k of a person i: 4i + slot.
const (
	cardFirst = iota
	cardSecond
	cardNoConsent
	cardGhost
	cardsPerPerson
)

func (w *worker) consents(c *chunk, r *rand.Rand, i int64, id, name string, birth int) {
	g := w.g
	if r.IntN(100) < 55 {
		inst := g.pickInstitution(r, "")
		w.consent(c, r, i*cardsPerPerson+cardFirst, inst, id, name, birth, pickState(r))
		if r.IntN(100) < 8 {
			w.consent(c, r, i*cardsPerPerson+cardSecond, g.pickInstitution(r, inst), id, name, birth, pickState(r))
		}
	}
	if r.IntN(100) < 1 {
		// A card whose holder never signed the consent form.
		inst := g.pickInstitution(r, "")
		cd := w.card(r, i*cardsPerPerson+cardNoConsent, inst, "no consent", "14", "14")
		c.cards = append(c.cards, cd)
	}
	if r.IntN(200) < 1 {
		// A consent naming a national ID that has no insured person.
		ghost := g.nationalID(g.n + i)
		st := consentState{note: "no insured person", services: "both", status: "active", pension: "25", insurance: "25"}
		w.consent(c, r, i*cardsPerPerson+cardGhost, g.pickInstitution(r, ""), ghost, name, birth, st)
	}
}

func (w *worker) consent(c *chunk, r *rand.Rand, k int64, inst, id, name string, birth int, st consentState) {
	g := w.g
	cd := w.card(r, k, inst, st.note, st.pension, st.insurance)
	if st.nameDiff {
		rs := []rune(name)
		old := rs[len(rs)-1]
		for rs[len(rs)-1] == old {
			rs[len(rs)-1] = []rune(givenMale[r.IntN(len(givenMale))])[0]
		}
		name = string(rs)
	}
	if st.birthDiff {
		birth += 1 + r.IntN(400)
	}
	earliest := max(daysFromCivil(2016, 1, 1), birth+365*18)
	signed := earliest
	if g.asOf > earliest {
		signed += r.IntN(g.asOf - earliest + 1)
	}
	by, bm, bd := civilFromDays(birth)
	sy, sm, sd := civilFromDays(signed)
	b := &c.buf[fConsents]
	*b = append(*b, inst...)
	*b = append(*b, ',')
	*b = append(*b, cd.PAN...)
	*b = append(*b, ',')
	*b = append(*b, id...)
	*b = append(*b, ',')
	*b = appendCSV(*b, name)
	*b = append(*b, ',')
	*b = append(*b, dateString(by, bm, bd)...)
	*b = append(*b, ',')
	*b = append(*b, st.services...)
	*b = append(*b, ',')
	*b = append(*b, dateString(sy, sm, sd)...)
	*b = append(*b, ',')
	*b = append(*b, st.status...)
	*b = append(*b, '\n')
	c.consents++
	c.cards = append(c.cards, cd)
}

func (w *worker) card(r *rand.Rand, k int64, inst, note, pension, insurance string) cards.Card {
	g := w.g
	exp := g.asOfMonth + 36 + r.IntN(37)
	if r.IntN(100) < 2 {
		exp = g.asOfMonth - 1 - r.IntN(24)
		note, pension, insurance = "expired", "54", "54"
	}
	seq := 1
	if r.IntN(10) == 0 {
		seq = 2 // a reissued card
	}
	var key [16]byte
	for j := range key {
		key[j] = byte(r.Uint32())
	}
	return cards.Card{
		PAN:          g.pan(inst, k),
		Expiry:       string(appendInt(appendInt(nil, (exp/12)%100, 2), exp%12+1, 2)),
		Sequence:     seq,
		Key:          hexUpper(key[:]),
		Institutions: []string{inst},
		Expect:       &cards.Expect{Pension: pension, Insurance: insurance},
		Note:         note,
	}
}

func hexUpper(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, v := range b {
		out[2*i] = digits[v>>4]
		out[2*i+1] = digits[v&15]
	}
	return string(out)
}

func dateString(y, m, d int) string {
	b := make([]byte, 0, 10)
	b = appendInt(b, y, 4)
	b = append(b, '-')
	b = appendInt(b, m, 2)
	b = append(b, '-')
	b = appendInt(b, d, 2)
	return string(b)
}

// appendInt appends a non-negative integer zero-padded to width digits.
func appendInt(b []byte, v, width int) []byte {
	var tmp [20]byte
	n := len(tmp)
	for v > 0 || n == len(tmp) {
		n--
		tmp[n] = byte('0' + v%10)
		v /= 10
	}
	for len(tmp)-n < width {
		n--
		tmp[n] = '0'
	}
	return append(b, tmp[n:]...)
}

// appendCSV appends a field, quoted when it holds a comma, quote or line break.
func appendCSV(b []byte, s string) []byte {
	needs := false
	for i := 0; i < len(s); i++ {
		if s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r' {
			needs = true
			break
		}
	}
	if !needs {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
