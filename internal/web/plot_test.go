package web

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// plotSVGNode is a generic parse of the plot's SVG.
type plotSVGNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr    `xml:",any,attr"`
	Nodes   []plotSVGNode `xml:",any"`
	Text    string        `xml:",chardata"`
}

func (n plotSVGNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n plotSVGNode) walk(fn func(plotSVGNode)) {
	fn(n)
	for _, c := range n.Nodes {
		c.walk(fn)
	}
}

// TestPlotSVG: a known set of points gives well-formed SVG with one link
// per job, to that job's page, coloured by its result, higher values
// higher up, and y ticks covering the values.
func TestPlotSVG(t *testing.T) {
	pts := []plotPoint{
		{Label: "7", URL: "/results/7/0_perf/speed", Value: 10, Result: "pass"},
		{Label: "9", URL: "/results/9/0_perf/speed", Value: 25.5, Result: "fail"},
		{Label: "12.1", URL: "/results/12.1/0_perf/speed", Value: 18, Result: "weird<"},
	}
	svg := string(plotSVG(pts, "MB/s"))
	var root plotSVGNode
	if err := xml.Unmarshal([]byte(svg), &root); err != nil {
		t.Fatalf("plot is not well-formed XML: %v\n%s", err, svg)
	}
	if root.XMLName.Local != "svg" || root.attr("id") != "case-plot" {
		t.Fatalf("root = %s#%s, want svg#case-plot", root.XMLName.Local, root.attr("id"))
	}
	type point struct {
		href, class string
		cy          float64
	}
	var got []point
	var yticks []string
	root.walk(func(n plotSVGNode) {
		if n.XMLName.Local == "a" && strings.HasPrefix(n.attr("class"), "plot-point") {
			p := point{href: n.attr("href")}
			for _, c := range n.Nodes {
				if c.XMLName.Local == "circle" {
					p.class = c.attr("class")
					fmt.Sscan(c.attr("cy"), &p.cy)
				}
			}
			got = append(got, p)
		}
		if n.XMLName.Local == "g" && n.attr("class") == "plot-yaxis" {
			for _, c := range n.Nodes {
				if c.XMLName.Local == "text" && c.attr("class") == "" {
					yticks = append(yticks, c.Text)
				}
			}
		}
	})
	if len(got) != len(pts) {
		t.Fatalf("%d points, want %d:\n%s", len(got), len(pts), svg)
	}
	var hrefs, classes []string
	for _, p := range got {
		hrefs = append(hrefs, p.href)
		classes = append(classes, p.class)
	}
	if diff := cmp.Diff(hrefs, []string{"/results/7/0_perf/speed", "/results/9/0_perf/speed", "/results/12.1/0_perf/speed"}); diff != "" {
		t.Errorf("point links (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(classes, []string{"pt pt-pass", "pt pt-fail", "pt pt-unknown"}); diff != "" {
		t.Errorf("point classes (-got +want):\n%s", diff)
	}
	// SVG's y grows downwards: 25.5 is highest, 10 lowest.
	if !(got[1].cy < got[2].cy && got[2].cy < got[0].cy) {
		t.Errorf("point heights %v, %v, %v do not follow 10, 25.5, 18", got[0].cy, got[1].cy, got[2].cy)
	}
	if diff := cmp.Diff(yticks, []string{"10", "15", "20", "25", "30"}); diff != "" {
		t.Errorf("y ticks (-got +want):\n%s", diff)
	}
	if !strings.Contains(svg, ">MB/s<") || strings.Contains(svg, "weird<") {
		t.Errorf("units missing or a result not escaped:\n%s", svg)
	}
}

func TestPlotEdges(t *testing.T) {
	if plotSVG(nil, "") != "" {
		t.Errorf("no points drew something")
	}
	one := string(plotSVG([]plotPoint{{Label: "1", URL: "/x", Value: 0, Result: "pass"}}, ""))
	if err := xml.Unmarshal([]byte(one), new(plotSVGNode)); err != nil || strings.Count(one, "<circle") != 1 {
		t.Errorf("one point at 0: %v\n%s", err, one)
	}
	for _, c := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 1, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{5, 5, []float64{4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6}},
		{-3, 7, []float64{-4, -2, 0, 2, 4, 6, 8}},
		{1e6, 1.2e6, []float64{1e6, 1.05e6, 1.1e6, 1.15e6, 1.2e6}},
	} {
		if diff := cmp.Diff(plotTicks(c.lo, c.hi, 5), c.want); diff != "" {
			t.Errorf("plotTicks(%v, %v) (-got +want):\n%s", c.lo, c.hi, diff)
		}
	}
}
