package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/bli/atmgw/sim/cards"
)

// DefaultAsOf is the export date used when Options.AsOf is zero (fixed, so
// that the output depends on the options only).
const DefaultAsOf = "2026-10-31"

// DefaultYears is the default history window.
const DefaultYears = 15

// The files Generate writes into Options.Dir.
const (
	PersonsFile   = "persons.csv"
	PensionFile   = "pension_ledger.csv"
	InsuranceFile = "insurance_events.csv"
	ConsentsFile  = "consents.csv"
	AsOfFile      = "as_of.txt"
	CardsFile     = "cards.json"
)

// Options say what to generate.
type Options struct {
	Dir     string    // output directory (created if missing)
	Persons int       // insured persons, at least 1
	Seed    uint64    // the same seed and options give the same bytes
	AsOf    time.Time // export date; zero: DefaultAsOf
	Years   int       // history window in years before AsOf; 0: DefaultYears
	Workers int       // generating goroutines; 0: GOMAXPROCS. Does not change the output.
	// Progress, when set, is called with the number of persons written so
	// far, from one goroutine, after each chunk.
	Progress func(persons int)
}

// Summary counts what was written.
type Summary struct {
	Persons       int64
	PensionRows   int64
	InsuranceRows int64
	Consents      int64
	Cards         int64
	Bytes         int64
}

// The files other than as_of.txt, in the order of a chunk's buffers.
var outFiles = [...]string{PersonsFile, PensionFile, InsuranceFile, ConsentsFile, CardsFile}

const (
	fPersons = iota
	fPension
	fInsurance
	fConsents
	fCards
	nFiles
)

var headers = [nFiles]string{
	"national_id,name,birth_date\n",
	"entry_id,national_id,period,kind,unit_name,amount\n",
	"entry_id,national_id,event_date,kind,unit_name,insured_salary\n",
	"institution,pan,national_id,name,birth_date,services,signed_date,status\n",
	"", // the card writer has its own framing
}

const chunkPersons = 256

// chunk is the output of persons [start, end).
type chunk struct {
	start, end int
	buf        [nFiles][]byte
	cards      []cards.Card
	pension    int64
	insurance  int64
	consents   int64
	err        error
	done       chan struct{}
}

// Generate writes the load files and the card file. Files are written
// under temporary names and renamed once complete, so that a cancelled run
// leaves no half file under a final name.
func Generate(ctx context.Context, o Options) (Summary, error) {
	if err := o.defaults(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("gen: %w", err)
	}
	g := newModel(o)
	out, err := createOutputs(o.Dir)
	if err != nil {
		return Summary{}, fmt.Errorf("gen: %w", err)
	}
	cw := cards.NewWriter(out.writers[fCards])

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Jobs go to the workers and, in the same order, to the writer: the
	// writer waits for each chunk in turn, so output order is fixed and at
	// most cap(order) chunks are in memory.
	jobs := make(chan *chunk)
	order := make(chan *chunk, 2*o.Workers)
	// Written chunks give their buffers back for the next ones.
	free := make(chan [nFiles][]byte, 2*o.Workers+2)
	go feed(ctx, o.Persons, jobs, order, free)
	var wg sync.WaitGroup
	defer wg.Wait()
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := g.newWorker()
			for c := range jobs {
				w.fill(c)
				close(c.done)
			}
		}()
	}

	sum, werr := out.collect(ctx, order, free, cw, o.Progress)
	if werr == nil && sum.Persons != int64(o.Persons) {
		werr = ctx.Err()
		if werr == nil {
			werr = errors.New("generation stopped early")
		}
	}
	if werr != nil {
		cancel()
		for range order { // let the feeder end
		}
		out.remove()
		return sum, fmt.Errorf("gen: %w", werr)
	}
	if err := cw.Close(); err != nil {
		out.remove()
		return sum, fmt.Errorf("gen: %w", err)
	}
	if err := out.commit(o.Dir); err != nil {
		return sum, fmt.Errorf("gen: %w", err)
	}
	err = cards.WriteAtomic(filepath.Join(o.Dir, AsOfFile), func(w io.Writer) error {
		_, err := io.WriteString(w, o.AsOf.Format(time.DateOnly)+"\n")
		return err
	})
	if err != nil {
		return sum, fmt.Errorf("gen: %w", err)
	}
	return sum, nil
}

// defaults checks o and fills in what it leaves zero.
func (o *Options) defaults() error {
	if o.Persons < 1 {
		return errors.New("gen: persons must be at least 1")
	}
	if o.Persons > maxPersons {
		return fmt.Errorf("gen: at most %d persons", maxPersons)
	}
	if o.Years == 0 {
		o.Years = DefaultYears
	}
	if o.Years < 1 || o.Years > 60 {
		return errors.New("gen: years must be 1 to 60")
	}
	if o.AsOf.IsZero() {
		o.AsOf, _ = time.Parse(time.DateOnly, DefaultAsOf)
	}
	if o.AsOf.Year() < 2006 || o.AsOf.Year() > 2100 {
		return errors.New("gen: as-of date must be between 2006 and 2100")
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// feed cuts persons [0, n) into chunks and hands each to the writer (order)
// and to a worker (jobs), in that order, with a buffer given back by a
// written chunk when there is one; it closes both when done or when ctx
// ends.
func feed(ctx context.Context, n int, jobs, order chan<- *chunk, free <-chan [nFiles][]byte) {
	defer close(jobs)
	defer close(order)
	for s := 0; s < n; s += chunkPersons {
		c := &chunk{start: s, end: min(s+chunkPersons, n), done: make(chan struct{})}
		select {
		case c.buf = <-free:
		default:
		}
		select {
		case order <- c:
		case <-ctx.Done():
			return
		}
		select {
		case jobs <- c:
		case <-ctx.Done():
			return
		}
	}
}

// outputs are the files being written, under temporary names in the
// output directory until commit.
type outputs struct {
	files   [nFiles]*os.File
	writers [nFiles]*bufio.Writer
}

// createOutputs creates the temporary files, each with its header.
func createOutputs(dir string) (*outputs, error) {
	out := &outputs{}
	for k, name := range outFiles {
		f, err := os.CreateTemp(dir, "."+name+".*.tmp")
		if err != nil {
			out.remove()
			return nil, err
		}
		out.files[k] = f
		out.writers[k] = bufio.NewWriterSize(f, 1<<18)
		out.writers[k].WriteString(headers[k])
	}
	return out, nil
}

// collect writes the chunks in their order as the workers fill them,
// gives their buffers back, and sums them up; it stops at the first error
// or when ctx ends.
func (out *outputs) collect(ctx context.Context, order <-chan *chunk, free chan<- [nFiles][]byte, cw *cards.Writer, progress func(int)) (Summary, error) {
	var sum Summary
	var werr error
	for c := range order {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			werr = ctx.Err()
			break
		}
		for k := range nFiles {
			if k == fCards {
				continue
			}
			if _, err := out.writers[k].Write(c.buf[k]); err != nil && werr == nil {
				werr = err
			}
			sum.Bytes += int64(len(c.buf[k]))
		}
		for i := range c.cards {
			if err := cw.Write(&c.cards[i]); err != nil && werr == nil {
				werr = err
			}
		}
		var bufs [nFiles][]byte
		for k := range bufs {
			bufs[k] = c.buf[k][:0]
		}
		select {
		case free <- bufs:
		default:
		}
		sum.Persons += int64(c.end - c.start)
		sum.PensionRows += c.pension
		sum.InsuranceRows += c.insurance
		sum.Consents += c.consents
		sum.Cards += int64(len(c.cards))
		if werr != nil {
			break
		}
		if progress != nil {
			progress(int(sum.Persons))
		}
	}
	return sum, werr
}

// commit flushes and closes the files and renames them to their final
// names in dir (removing them all on an error before the renames).
func (out *outputs) commit(dir string) error {
	for k, name := range outFiles {
		f := out.files[k]
		if err := out.writers[k].Flush(); err != nil {
			out.remove()
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := f.Chmod(0o644); err != nil {
			out.remove()
			return err
		}
		if err := f.Close(); err != nil {
			out.remove()
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for k, name := range outFiles {
		if err := os.Rename(out.files[k].Name(), filepath.Join(dir, name)); err != nil {
			return err
		}
		out.files[k] = nil
	}
	return nil
}

// remove closes and removes the files not yet renamed.
func (out *outputs) remove() {
	for _, f := range out.files {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
}

// maxPersons keeps national IDs unique (persons and ghost IDs share the
// 520 million IDs of the scheme) and entry ids well inside int64.
const maxPersons = 100_000_000

// model is what all workers share (read-only once built).
type model struct {
	o          Options
	n          int64 // persons
	asOf       int   // day number
	asOfMonth  int   // year*12 + month-1
	lagEnd     int   // last pension period shown (three months before the as-of month)
	window     int   // first day of the history window
	units      []string
	idMul      uint64
	idAdd      uint64
	panAdd     uint64
	instWeight int
}

func newModel(o Options) *model {
	y, m, d := o.AsOf.Date()
	g := &model{
		o:         o,
		n:         int64(o.Persons),
		asOf:      daysFromCivil(y, int(m), d),
		asOfMonth: y*12 + int(m) - 1,
	}
	g.lagEnd = g.asOfMonth - 3
	g.window = daysFromCivil(y-o.Years, int(m), d)
	r := rand.New(rand.NewPCG(o.Seed, 0xA7A7A7A7))
	g.idAdd = r.Uint64() % idSpace
	g.idMul = 387420489 // 3^18: coprime with 520,000,000 = 2^9 * 5^7 * 13
	g.panAdd = r.Uint64() % panSpace
	nUnits := min(2000+o.Persons/40, 60000)
	g.units = make([]string, nUnits)
	for i := range g.units {
		g.units[i] = unitName(r)
	}
	for _, in := range institutions {
		g.instWeight += in.weight
	}
	return g
}

const (
	idSpace  = 26 * 2 * 10_000_000
	panSpace = 100_000_000_000
	panMul   = 3486784401 // 3^20: coprime with 10^11
)

// nationalID returns the k-th national ID of the scheme's bijection:
// letter, sex digit (1 male, 2 female), seven digits and the check digit.
func (g *model) nationalID(k int64) string {
	v := (uint64(k)*g.idMul + g.idAdd) % idSpace
	letter := int(v / 20_000_000)
	sex := int(v/10_000_000)%2 + 1
	seven := int(v % 10_000_000)
	b := make([]byte, 10)
	b[0] = byte('A' + letter)
	b[1] = byte('0' + sex)
	for i := 8; i >= 2; i-- {
		b[i] = byte('0' + seven%10)
		seven /= 10
	}
	b[9] = byte('0' + idCheckDigit(b))
	return string(b)
}

// idCheckDigit computes the last digit of a national ID from its first nine
// characters.
func idCheckDigit(id []byte) int {
	lv := idLetterValue[id[0]-'A']
	sum := lv/10 + (lv%10)*9
	for i := 1; i <= 8; i++ {
		sum += int(id[i]-'0') * (9 - i)
	}
	return (10 - sum%10) % 10
}

// pan returns the PAN of card number k (unique over k) at an institution,
// with a Luhn check digit.
func (g *model) pan(institution string, k int64) string {
	serial := (uint64(k)*panMul + g.panAdd) % panSpace
	p := fmt.Sprintf("%s%011d", panPrefix(institution), serial)
	return p + string(rune('0'+luhnDigit(p)))
}

// luhnDigit is the check digit to append to digits.
func luhnDigit(digits string) int {
	sum := 0
	double := true
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

func unitName(r *rand.Rand) string {
	place := places[r.IntN(len(places))]
	switch u := r.IntN(1000); {
	case u < 8:
		return fmt.Sprintf(longUnits[r.IntN(len(longUnits))], place)
	case u < 10:
		return fmt.Sprintf(rareUnits[r.IntN(len(rareUnits))], place)
	case u < 110:
		return fmt.Sprintf(publicUnits[r.IntN(len(publicUnits))], place)
	case u < 400:
		return place + brandWords[r.IntN(len(brandWords))] + industries[r.IntN(len(industries))] + pickSuffix(r)
	}
	return brandWords[r.IntN(len(brandWords))] + industries[r.IntN(len(industries))] + pickSuffix(r)
}

func pickSuffix(r *rand.Rand) string {
	total := 0
	for _, s := range companySuffixes {
		total += s.w
	}
	x := r.IntN(total)
	for _, s := range companySuffixes {
		if x < s.w {
			return s.s
		}
		x -= s.w
	}
	return companySuffixes[0].s
}

// Civil dates as day numbers (days since 1970-01-01), after H. Hinnant.
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int) (y, m, d int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// monthOfDay is year*12 + month-1 of a day number.
func monthOfDay(day int) int {
	y, m, _ := civilFromDays(day)
	return y*12 + m - 1
}

func firstDayOfMonth(month int) int { return daysFromCivil(month/12, month%12+1, 1) }
