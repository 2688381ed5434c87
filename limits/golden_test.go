package limits

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bli/atmgw/card"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// frame draws a rendering as it would show: each line within a box as wide
// as the profile, with what it took.
func frame(b *strings.Builder, title string, p Profile, text []byte) {
	s := DecodeBig5(text)
	lines := strings.Split(s, "\n")
	fmt.Fprintf(b, "## %s: %d of %d lines, %d bytes\n", title, len(lines), p.Lines, len(text))
	edge := "+" + strings.Repeat("-", p.Columns) + "+\n"
	b.WriteString(edge)
	for _, l := range lines {
		b.WriteString("|" + l + strings.Repeat(" ", max(0, p.Columns-Width(l))) + "|\n")
	}
	b.WriteString(edge + "\n")
}

// TestGolden renders the screen and receipt of every partner profile, and
// of narrow profiles (20, 24 and 32 columns), for both services, with six
// rows and with none, and a decline, checks the hard rules on the Big5
// bytes and compares UTF-8 renderings for review with testdata/golden (go
// test ./limits -run Golden -update rewrites them). The narrow profiles'
// files also show the worst case Validate lays out.
func TestGolden(t *testing.T) {
	for _, pp := range append(partnerProfiles(), narrowProfiles()...) {
		t.Run(pp.file, func(t *testing.T) {
			var b strings.Builder
			fmt.Fprintf(&b, "# %s %s, terminal %s: screen %v, receipt %v\n\n", pp.institution, pp.name, pp.terminal, pp.pair.Screen, pp.pair.Receipt)
			for _, svc := range []card.Service{card.ServicePension, card.ServiceInsurance} {
				for _, empty := range []bool{false, true} {
					in := inquiryFor(pp, svc, empty)
					what := fmt.Sprintf("%v, 6 rows", svc)
					if empty {
						what = fmt.Sprintf("%v, no rows", svc)
					}
					screen, receipt := Screen(pp.pair.Screen, in), Receipt(pp.pair.Receipt, in)
					if err := Check(pp.pair.Screen, screen); err != nil {
						t.Errorf("screen %s: %v", what, err)
					}
					if err := Check(pp.pair.Receipt, receipt); err != nil {
						t.Errorf("receipt %s: %v", what, err)
					}
					assertContent(t, "screen "+what, screen, in, false, true)
					assertContent(t, "receipt "+what, receipt, in, true, true)
					frame(&b, "screen, "+what, pp.pair.Screen, screen)
					frame(&b, "receipt, "+what, pp.pair.Receipt, receipt)
				}
			}
			if strings.HasPrefix(pp.file, "narrow") {
				for _, in := range worstCases()[:2] {
					what := fmt.Sprintf("%v, worst case", in.Service)
					screen, receipt := Screen(pp.pair.Screen, in), Receipt(pp.pair.Receipt, in)
					if err := Check(pp.pair.Screen, screen); err != nil {
						t.Errorf("screen %s: %v", what, err)
					}
					if err := Check(pp.pair.Receipt, receipt); err != nil {
						t.Errorf("receipt %s: %v", what, err)
					}
					assertContent(t, "screen "+what, screen, in, false, false)
					assertContent(t, "receipt "+what, receipt, in, true, false)
					frame(&b, "screen, "+what, pp.pair.Screen, screen)
					frame(&b, "receipt, "+what, pp.pair.Receipt, receipt)
				}
			}
			msg := Message(pp.pair.Screen, "未申請勞保局資料查詢服務，請洽發卡單位")
			if err := Check(pp.pair.Screen, msg); err != nil {
				t.Errorf("message: %v", err)
			}
			frame(&b, "screen, decline 14", pp.pair.Screen, msg)

			path := filepath.Join("testdata", "golden", pp.file+".txt")
			got := []byte(b.String())
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering (run with -update after review):\n%s", path, diffLines(string(want), string(got)))
			}
		})
	}
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
