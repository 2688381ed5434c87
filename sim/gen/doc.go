// Package gen generates large, realistic load files for `atmgw load`: the
// five files it reads (persons.csv, pension_ledger.csv,
// insurance_events.csv, consents.csv, as_of.txt) for N insured persons, and
// a matching card file (cards.json) for the simulator.
//
// The output is a function of the options alone (same seed, same bytes),
// whatever the number of workers. Persons are generated in chunks by
// parallel workers, each person from its own random stream (seed, person
// index), and the chunks are written in order; memory is bounded by the
// chunks in flight, not by N.
//
// What the data holds:
//   - persons with valid national IDs (letter, sex digit, check digit) and
//     Chinese names, a few with a character Big5 lacks (shown as ？);
//   - insurance histories from the start of the history window: jobs at
//     units drawn from a shared pool (big employers more often), job
//     changes on the same day or after gaps, raises as salary changes (the
//     insured salary capped at 45,800), some overlapping part-time jobs (two
//     units covering the same days), and people who stopped working;
//   - pension ledgers from July 2005 (the new system): monthly employer
//     contributions (6 % of the contribution wage), voluntary contributions
//     for some, yearly earnings (negative in bad years), the odd settlement
//     moved in and adjustment; periods stop three months before the as-of
//     date (the contribution lag); entry ids follow posting order across
//     persons, as an export of the core ledger would;
//   - consents across the six institutions in every state: both services,
//     pension only, insurance only, revoked, name or birth date that does not
//     match, a national ID with no insured person; plus cards with no consent
//     and expired cards, all in cards.json with the answer each should get.
package gen
