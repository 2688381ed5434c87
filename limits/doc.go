// Package limits lays out what an ATM shows and prints, within what it can
// show and print: the screen (DE61), statement (DE62) and receipt (DE63)
// texts of partner interface v1 (docs/interface.md, section 6, and
// docs/layout.md), and the profiles (columns × lines) of each institution's screens and receipts.
//
// Profiles: a Book holds a Pair (screen and receipt Profile) per
// institution, per terminal-id prefix within it (the longest prefix wins)
// and an optional default. Validate refuses a profile wider than
// MaxColumns, and one too small for an approved answer, which it finds by
// laying out the worst case (six rows of the longest unit names and the
// largest amounts, the largest totals, the longest identifiers; and no
// rows) with the layout itself: Holds reports whether the layout's best
// attempt shows everything that must show, whole, within the profile.
// There is no separate table of minimums; MinLines and MinimumPair (the
// floor Lookup answers for unknown terminals) are computed the same way.
//
// Big5: texts are Big5 as code page 950 has it. The layout writes every
// character CP950 does not have (𠀋, emoji, 堃, 犇, ①, and the Hong Kong
// HKSCS characters other Big5 tables put in CP950's user-defined areas)
// into ？, so it never fails; Width measures a UTF-8 string in columns
// (ASCII 1, anything else 2, which is also its length in Big5);
// TruncateBig5 shortens without cutting a character. The CP950 table is
// built once, on first use, from golang.org/x/text's Big5 decoder and is
// read-only afterwards. The tests read texts back with their own helpers
// (oracle_test.go: DecodeBig5, Check, ParseStatement); the simulator has
// its own readers.
//
// Layout: Screen and Receipt render an approved inquiry (Inquiry) for a
// profile, Message a decline or other short text, Statement the fixed-width
// DE62. Lines are separated by LF with no LF after the last. A line never
// exceeds the profile's columns, a text never exceeds its lines nor
// MaxText bytes, a character is never cut, and
// amounts, dates and identifiers are written whole or not at all; within
// those limits an approved answer always shows the masked name (MaskName),
// the as-of date, every row and the totals. On narrow profiles a labelled
// line takes its compact label or puts its value under the label, the time
// goes under the date, and rows take two lines (the amount beside the kind,
// or beside the unit name) or three; the plan tries the forms of wide
// profiles first and takes the first form that holds everything, which the
// writer tells by recording whatever that must show did not fit. What gives
// way first when a profile is short is written in docs/layout.md: the lag
// notice, then the receipt's separators, the column header and the title;
// unit names are shortened, never amounts or dates.
//
// It knows nothing of ISO 8583 or SQL.
package limits
