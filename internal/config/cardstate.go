package config

import (
	"fmt"
	"time"

	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/postgres"
)

// Where the card state lives (card_state.store).
const (
	// CardStateAuto is the default: CardStateDatabase when database_url is
	// set, CardStateMemory on the embedded demo ledger.
	CardStateAuto = "auto"
	// CardStateDatabase keeps decisions 7, 14 and 15 on the primary,
	// shared by every gateway on it and durable across restarts.
	CardStateDatabase = "database"
	// CardStateMemory keeps them in this process (lost on restart, not
	// shared): the demo ledger, and single-gateway test setups.
	CardStateMemory = "memory"
)

// What a gateway does while the primary cannot be reached (card_state.when_primary_down).
const (
	// PrimaryDownFail answers 91 (fail closed): the default.
	PrimaryDownFail = "fail"
	// PrimaryDownMemory falls back to this gateway's memory for as long as
	// the primary is down (logged, counted).
	PrimaryDownMemory = "memory"
)

// CardState holds the card-state settings (ledger.CardState).
type CardState struct {
	Store           string   `yaml:"store"`             // auto, database or memory
	WhenPrimaryDown string   `yaml:"when_primary_down"` // fail (91) or memory
	Timeout         Duration `yaml:"timeout"`           // deadline of one group commit on the primary
	MaxBatch        int      `yaml:"max_batch"`         // checks grouped into one statement at most
	Workers         int      `yaml:"workers"`           // statements in flight at once, each on a connection of its own
}

// CardStateSettings are where decisions 7, 14 and 15 are kept, and their rules.
type CardStateSettings struct {
	Store string // CardStateDatabase or CardStateMemory (auto decided)
	// MemoryWhenPrimaryDown: this gateway's memory stands in while the
	// primary is down (card_state.when_primary_down: memory).
	MemoryWhenPrimaryDown bool
	// Options holds the rules (duplicate window, per-card rate: negative
	// is off) and the primary's batch deadline and size; Logger and
	// Registerer are app's.
	Options postgres.CardStateOptions
}

// resolve checks the card_state section and returns the settings in
// force, with the rules of decisions 7 and 15.
func (c *CardState) resolve(p *problems, databaseURL string, rules ledger.CardStateOptions) CardStateSettings {
	p.add(c.validate(databaseURL)...)
	return CardStateSettings{
		Store:                 c.Sink(databaseURL),
		MemoryWhenPrimaryDown: c.WhenPrimaryDown == PrimaryDownMemory,
		Options: postgres.CardStateOptions{
			CardStateOptions: rules,
			Timeout:          or(time.Duration(c.Timeout), postgres.DefaultCardStateTimeout),
			MaxBatch:         or(c.MaxBatch, postgres.DefaultCardStateMaxBatch),
			Workers:          or(c.Workers, postgres.DefaultCardStateWorkers),
		},
	}
}

// cardRules are the rules of decisions 7 and 15 (duplicate_window,
// card_rate). card_rate.inquiries: 0 (off) is negative in ledger's options.
func (c *Config) cardRules(p *problems) ledger.CardStateOptions {
	rate := ledger.DefaultRateLimit
	if n := c.CardRate.Inquiries; n != nil {
		rate = *n
	}
	switch {
	case rate < 0:
		p.addf("card_rate.inquiries: must be 0 (off) or more")
	case rate == 0:
		rate = -1 // off
	}
	return ledger.CardStateOptions{
		DuplicateWindow: or(time.Duration(c.DuplicateWindow), ledger.DefaultDuplicateWindow),
		RateLimit:       rate,
		RateWindow:      or(time.Duration(c.CardRate.Window), ledger.DefaultRateWindow),
	}
}

func (c *CardState) validate(databaseURL string) []string {
	var errs []string
	switch c.Store {
	case "", CardStateAuto, CardStateMemory:
	case CardStateDatabase:
		if databaseURL == "" {
			errs = append(errs, "card_state.store: database needs database_url")
		}
	default:
		errs = append(errs, fmt.Sprintf("card_state.store: %q is not one of auto, database, memory", c.Store))
	}
	switch c.WhenPrimaryDown {
	case "", PrimaryDownFail, PrimaryDownMemory:
	default:
		errs = append(errs, fmt.Sprintf("card_state.when_primary_down: %q is not fail or memory", c.WhenPrimaryDown))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, "card_state.max_batch: must be at least 1")
	}
	if c.Workers < 0 {
		errs = append(errs, "card_state.workers: must be at least 1")
	}
	return errs
}

// Sink is where the card state lives: CardStateDatabase or CardStateMemory.
func (c *CardState) Sink(databaseURL string) string {
	if c.Store == CardStateAuto || c.Store == "" {
		if databaseURL != "" {
			return CardStateDatabase
		}
		return CardStateMemory
	}
	return c.Store
}
