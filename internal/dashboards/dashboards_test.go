package dashboards

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// shipped is the generated dashboard as committed.
const shipped = "../../configs/grafana/atmgw.json"

// TestShippedDashboardIsGenerated regenerates the dashboard in memory and
// wants configs/grafana/atmgw.json byte for byte: run `go generate
// ./internal/dashboards` after changing this package.
func TestShippedDashboardIsGenerated(t *testing.T) {
	want, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatalf("%v (run go generate ./internal/dashboards)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s is not what internal/dashboards generates (run go generate ./internal/dashboards); first difference at line %d:\n file: %s\n code: %s", shipped, i+1, g, w)
			}
		}
		t.Fatalf("%s is not what internal/dashboards generates (run go generate ./internal/dashboards)", shipped)
	}
}

// TestDashboardShape checks what Grafana needs and operators rely on: unique
// panel ids, every panel titled, described and queried on the dashboard's
// Prometheus variable, no panel overlapping another.
func TestDashboardShape(t *testing.T) {
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID          int    `json:"id"`
			Type        string `json:"type"`
			Title       string `json:"title"`
			Description string `json:"description"`
			GridPos     struct{ H, W, X, Y int }
			Datasource  struct{ Type, UID string }
			Targets     []struct {
				Expr       string `json:"expr"`
				RefID      string `json:"refId"`
				Datasource struct{ Type, UID string }
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID != UID {
		t.Errorf("uid %q", d.UID)
	}
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	panels := 0
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d not unique", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if o, ok := cells[[2]int{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at %d,%d", o, p.Title, x, y)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is wider than the grid", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		panels++
		if p.Description == "" {
			t.Errorf("panel %q has no description", p.Title)
		}
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d targets", p.Title, p.Datasource, len(p.Targets))
		}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: target %+v", p.Title, q)
			}
		}
	}
	if panels < 20 {
		t.Errorf("%d panels", panels)
	}
}

// TestShippedDashboardReadsBack reads the shipped JSON back with the SDK
// (its panels and queries decoded by their plugins' types), validates it
// against the SDK's schema and writes it again: the same bytes, so nothing
// in it is foreign to Grafana's dashboard schema.
func TestShippedDashboardReadsBack(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard.Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", shipped, err)
	}
	if err := sdkErr(d.Validate()); err != nil {
		t.Fatalf("%s: %v", shipped, err)
	}
	// Written out again, it is the same JSON: nothing was dropped.
	var again bytes.Buffer
	enc := json.NewEncoder(&again)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), b) {
		os.WriteFile("/tmp/obs/again.json", again.Bytes(), 0o644)
		t.Errorf("%s read back and written again differs", shipped)
	}
}

// sdkErr is err, but nil for the SDK's empty list of errors (which it
// returns as a non-nil error).
func sdkErr(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}
