// Package progress draws a one-line progress display on a terminal (stderr)
// while a long simulator command runs: `atmsim load` and `atmsim gen`.
package progress
