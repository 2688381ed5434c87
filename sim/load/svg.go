package load

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// SVG geometry.
const (
	svgW       = 960
	svgH       = 660
	plotLeft   = 80
	plotRight  = 800 // legends go to the right of this
	panel1Top  = 70
	panel1Bot  = 300
	panel2Top  = 370
	panel2Bot  = 600
	svgFont    = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
	colorGrid  = "#dddddd"
	colorAxis  = "#333333"
	colorThru  = "#1f77b4"
	colorTO    = "#d62728"
	colorP50   = "#2ca02c"
	colorP90   = "#1f77b4"
	colorP99   = "#ff7f0e"
	colorMax   = "#9467bd"
	strokeLine = "2"
)

// WriteSVG draws throughput (answers and timeouts per second) and latency
// (p50, p90, p99, max per interval, log scale) over the run, as a
// standalone SVG document.
func (r *Report) WriteSVG(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="12">`+"\n",
		svgW, svgH, svgW, svgH, svgFont)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	title := fmt.Sprintf("atmsim load: %s, %d connection(s), %s", r.Gateway, r.Connections, r.Mode)
	if r.TargetRate > 0 {
		title += fmt.Sprintf(" at %.0f/s", r.TargetRate)
	}
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", plotLeft, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="44" fill="#555">%s</text>`+"\n", plotLeft, esc(fmt.Sprintf(
		"sent %d = answered %d + timed out %d; %.1f answers/s; p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms",
		r.Sent, r.Answered, r.TimedOut, r.Throughput, r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max)))

	maxT := 1.0
	for _, p := range r.Series {
		maxT = math.Max(maxT, p.T)
	}
	x := func(t float64) float64 { return plotLeft + (plotRight-plotLeft)*t/maxT }

	// Panel 1: throughput, linear.
	maxY := 1.0
	for _, p := range r.Series {
		maxY = math.Max(maxY, math.Max(p.Throughput, float64(p.TimedOut)/math.Max(p.Seconds, 1e-9)))
	}
	step := niceStep(maxY / 5)
	top := math.Ceil(maxY/step) * step
	y1 := func(v float64) float64 { return panel1Bot - (panel1Bot-panel1Top)*v/top }
	for v := 0.0; v <= top+step/2; v += step {
		gridLine(&b, y1(v), fmtTick(v))
	}
	axes(&b, panel1Top, panel1Bot, "per second")
	timeTicks(&b, maxT, panel1Bot, x)
	thru := make([][2]float64, 0, len(r.Series))
	tos := make([][2]float64, 0, len(r.Series))
	for _, p := range r.Series {
		thru = append(thru, [2]float64{x(p.T), y1(p.Throughput)})
		tos = append(tos, [2]float64{x(p.T), y1(float64(p.TimedOut) / math.Max(p.Seconds, 1e-9))})
	}
	polyline(&b, thru, colorThru)
	polyline(&b, tos, colorTO)
	legend(&b, panel1Top, []legendItem{{"answers/s", colorThru}, {"timeouts/s", colorTO}})
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">Throughput</text>`+"\n", plotLeft, panel1Top-8)

	// Panel 2: latency, log scale over whole decades.
	lo, hi := math.Inf(1), 0.0
	for _, p := range r.Series {
		for _, v := range []float64{p.P50, p.P90, p.P99, p.Max} {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 0.1, 10
	}
	dLo, dHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dHi <= dLo {
		dHi = dLo + 1
	}
	y2 := func(v float64) float64 {
		if v <= 0 {
			v = math.Pow(10, dLo)
		}
		return panel2Bot - (panel2Bot-panel2Top)*(math.Log10(v)-dLo)/(dHi-dLo)
	}
	for d := dLo; d <= dHi; d++ {
		gridLine(&b, y2(math.Pow(10, d)), fmtTick(math.Pow(10, d)))
		if d < dHi {
			for _, m := range []float64{2, 5} {
				v := m * math.Pow(10, d)
				fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-dasharray="2,3"/>`+"\n",
					plotLeft, y2(v), plotRight, y2(v), colorGrid)
			}
		}
	}
	axes(&b, panel2Top, panel2Bot, "milliseconds (log)")
	timeTicks(&b, maxT, panel2Bot, x)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds since start</text>`+"\n", (plotLeft+plotRight)/2, panel2Bot+40)
	for _, s := range []struct {
		color string
		get   func(Point) float64
	}{
		{colorMax, func(p Point) float64 { return p.Max }},
		{colorP99, func(p Point) float64 { return p.P99 }},
		{colorP90, func(p Point) float64 { return p.P90 }},
		{colorP50, func(p Point) float64 { return p.P50 }},
	} {
		pts := make([][2]float64, 0, len(r.Series))
		for _, p := range r.Series {
			if p.Answered > 0 {
				pts = append(pts, [2]float64{x(p.T), y2(s.get(p))})
			}
		}
		polyline(&b, pts, s.color)
	}
	legend(&b, panel2Top, []legendItem{{"max", colorMax}, {"p99", colorP99}, {"p90", colorP90}, {"p50", colorP50}})
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">Latency per interval</text>`+"\n", plotLeft, panel2Top-8)
	if len(r.Series) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#999">no data</text>`+"\n", (plotLeft+plotRight)/2, (panel1Top+panel1Bot)/2)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

type legendItem struct{ label, color string }

func legend(b *strings.Builder, top int, items []legendItem) {
	for i, it := range items {
		y := top + 10 + 20*i
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", plotRight+15, y, plotRight+40, y, it.color)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", plotRight+46, y+4, esc(it.label))
	}
}

func gridLine(b *strings.Builder, y float64, label string) {
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", plotLeft, y, plotRight, y, colorGrid)
	fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", plotLeft-6, y+4, esc(label))
}

func axes(b *strings.Builder, top, bot int, ylabel string) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", plotLeft, top, plotLeft, bot, colorAxis)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", plotLeft, bot, plotRight, bot, colorAxis)
	mid := (top + bot) / 2
	fmt.Fprintf(b, `<text x="20" y="%d" text-anchor="middle" transform="rotate(-90 20 %d)">%s</text>`+"\n", mid, mid, esc(ylabel))
}

func timeTicks(b *strings.Builder, maxT float64, bot int, x func(float64) float64) {
	step := niceStep(maxT / 8)
	for t := 0.0; t <= maxT+step/1000; t += step {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x(t), bot, x(t), bot+5, colorAxis)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(t), bot+18, fmtTick(t))
	}
}

func polyline(b *strings.Builder, pts [][2]float64, color string) {
	if len(pts) == 0 {
		return
	}
	if len(pts) == 1 {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", pts[0][0], pts[0][1], color)
		return
	}
	b.WriteString(`<polyline fill="none" stroke="` + color + `" stroke-width="` + strokeLine + `" stroke-linejoin="round" points="`)
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%.1f,%.1f", p[0], p[1])
	}
	b.WriteString(`"/>` + "\n")
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1e6:
		return trimZeros(fmt.Sprintf("%.1fM", v/1e6))
	case v >= 1e4:
		return trimZeros(fmt.Sprintf("%.1fk", v/1e3))
	case v >= 1:
		return trimZeros(fmt.Sprintf("%.2f", v))
	}
	return trimZeros(fmt.Sprintf("%.3f", v))
}

func trimZeros(s string) string {
	suffix := ""
	if n := len(s); n > 0 && (s[n-1] == 'k' || s[n-1] == 'M') {
		s, suffix = s[:n-1], s[n-1:]
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + suffix
}

func esc(s string) string { return html.EscapeString(s) }
