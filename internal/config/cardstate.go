package config

import (
	"fmt"
	"time"
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

// Defaults of the card_state section.
const (
	DefaultCardStateTimeout  = time.Second
	DefaultCardStateMaxBatch = 256
)

// CardState holds the card-state settings (ledger.CardState).
type CardState struct {
	Store           string   `yaml:"store"`             // auto, database or memory
	WhenPrimaryDown string   `yaml:"when_primary_down"` // fail (91) or memory
	Timeout         Duration `yaml:"timeout"`           // deadline of one group commit on the primary
	MaxBatch        int      `yaml:"max_batch"`         // checks grouped into one statement at most
}

func (c *CardState) applyDefaults() {
	if c.Store == "" {
		c.Store = CardStateAuto
	}
	if c.WhenPrimaryDown == "" {
		c.WhenPrimaryDown = PrimaryDownFail
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultCardStateTimeout)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultCardStateMaxBatch
	}
}

func (c *CardState) validate(databaseURL string) []string {
	var errs []string
	switch c.Store {
	case CardStateAuto, CardStateMemory:
	case CardStateDatabase:
		if databaseURL == "" {
			errs = append(errs, "card_state.store: database needs database_url")
		}
	default:
		errs = append(errs, fmt.Sprintf("card_state.store: %q is not one of auto, database, memory", c.Store))
	}
	switch c.WhenPrimaryDown {
	case PrimaryDownFail, PrimaryDownMemory:
	default:
		errs = append(errs, fmt.Sprintf("card_state.when_primary_down: %q is not fail or memory", c.WhenPrimaryDown))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, "card_state.max_batch: must be at least 1")
	}
	return errs
}

// Sink is where the card state lives: CardStateDatabase or CardStateMemory.
func (c *CardState) Sink(databaseURL string) string {
	if c.Store == CardStateAuto {
		if databaseURL != "" {
			return CardStateDatabase
		}
		return CardStateMemory
	}
	return c.Store
}
