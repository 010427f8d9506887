package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// The measurement plot of a test case across jobs, drawn on the server as
// inline SVG (no script, readable without one): one point per job, left
// to right in the order given (oldest first), each point a link to that
// job's result of the case and coloured by its result; a y axis with
// round ticks in the case's units, job ids under the x axis.
//
// Stable markup (tests and the browser helper read it):
//   svg#case-plot.plot             the plot
//   a.plot-point[href]             one per job, around circle.pt.pt-<result>;
//                                  a.plot-current for the page's own job
//   g.plot-yaxis text, g.plot-xaxis text   tick labels

// plotPoint is one job's measurement.
type plotPoint struct {
	Label  string // the job's display id, under the x axis
	URL    string // the page the point links to
	Value  float64
	Result string // pass, fail, skip, unknown: the point's colour
	// Current marks the job whose page shows the plot (a.plot-current).
	Current bool
}

// plot geometry, in SVG user units; the SVG scales to its box.
const (
	plotW, plotH                          = 720, 300
	plotLeft, plotRight, plotTop, plotBot = 72, 16, 16, 44
)

// plotSVG draws points; no points draw nothing.
func plotSVG(points []plotPoint, units string) template.HTML {
	if len(points) == 0 {
		return ""
	}
	lo, hi := points[0].Value, points[0].Value
	for _, p := range points {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	ticks := plotTicks(lo, hi, 5)
	ylo, yhi := ticks[0], ticks[len(ticks)-1]
	iw, ih := float64(plotW-plotLeft-plotRight), float64(plotH-plotTop-plotBot)
	x := func(i int) float64 {
		if len(points) == 1 {
			return plotLeft + iw/2
		}
		return plotLeft + iw*float64(i)/float64(len(points)-1)
	}
	y := func(v float64) float64 { return plotTop + ih*(1-(v-ylo)/(yhi-ylo)) }
	esc := template.HTMLEscapeString

	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="case-plot" class="plot" viewBox="0 0 %d %d" preserveAspectRatio="xMidYMid meet" role="img" aria-label="%s">`,
		plotW, plotH, esc(fmt.Sprintf("%d measurements from %s to %s %s", len(points), plotNum(lo), plotNum(hi), units)))
	// The y axis: grid lines and round values.
	b.WriteString(`<g class="plot-yaxis">`)
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line class="plot-grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, plotLeft, plotW-plotRight, y(t), y(t))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, plotLeft-6, y(t), esc(plotNum(t)))
	}
	if units != "" {
		fmt.Fprintf(&b, `<text class="plot-units" transform="translate(14 %.1f) rotate(-90)" text-anchor="middle">%s</text>`, plotTop+ih/2, esc(units))
	}
	b.WriteString(`</g>`)
	// The x axis: the jobs, at most about ten labels.
	fmt.Fprintf(&b, `<g class="plot-xaxis"><line class="plot-axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, plotLeft, plotW-plotRight, plotH-plotBot, plotH-plotBot)
	step := (len(points) + 9) / 10
	for i := 0; i < len(points); i += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(i), plotH-plotBot+16, esc(points[i].Label))
	}
	fmt.Fprintf(&b, `<text class="plot-caption" x="%.1f" y="%d" text-anchor="middle">job</text></g>`, plotLeft+iw/2, plotH-6)
	// The line through the points, then the points over it.
	if len(points) > 1 {
		b.WriteString(`<polyline class="plot-line" points="`)
		for i, p := range points {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(i), y(p.Value))
		}
		b.WriteString(`"/>`)
	}
	for i, p := range points {
		class := "plot-point"
		if p.Current {
			class += " plot-current"
		}
		fmt.Fprintf(&b, `<a class="%s" href="%s"><circle class="pt pt-%s" cx="%.1f" cy="%.1f" r="5"/><title>%s</title></a>`,
			class, esc(p.URL), caseResultClass(p.Result), x(i), y(p.Value),
			esc(fmt.Sprintf("job %s: %s %s (%s)", p.Label, plotNum(p.Value), units, p.Result)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// resultClass keeps a result's CSS class to the four LAVA results.
func caseResultClass(r string) string {
	switch r {
	case "pass", "fail", "skip":
		return r
	}
	return "unknown"
}

// plotTicks returns about n round values covering [lo, hi], first <= lo
// and last >= hi, at least two of them.
func plotTicks(lo, hi float64, n int) []float64 {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return []float64{0, 1}
	}
	if hi == lo {
		pad := math.Abs(lo) / 10
		if pad == 0 {
			pad = 1
		}
		lo, hi = lo-pad, hi+pad
	}
	step := plotNiceNum((hi-lo)/float64(n-1), true)
	first := math.Floor(lo/step) * step
	last := math.Ceil(hi/step) * step
	// Each tick is rounded to the step's decimals, so that 3 × 0.2 prints
	// 0.6.
	scale := math.Pow(10, math.Max(0, -math.Floor(math.Log10(step))))
	var out []float64
	for k := 0.0; first+k*step <= last+step/2 && len(out) < 4*n; k++ {
		out = append(out, math.Round((first+k*step)*scale)/scale)
	}
	if len(out) < 2 {
		out = append(out, out[0]+step)
	}
	return out
}

// plotNiceNum is a round number (1, 2, 5 times a power of ten) near x.
func plotNiceNum(x float64, round bool) float64 {
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	var nf float64
	switch {
	case round && f < 1.5, !round && f <= 1:
		nf = 1
	case round && f < 3, !round && f <= 2:
		nf = 2
	case round && f < 7, !round && f <= 5:
		nf = 5
	default:
		nf = 10
	}
	return nf * math.Pow(10, exp)
}

// plotNum prints a measurement short: up to 6 significant digits.
func plotNum(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}
