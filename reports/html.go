package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

//go:embed html.tmpl
var htmlSource string

//go:embed visuals.tmpl
var visualsSource string

// CSS is the style sheet of the HTML report, its cards and its charts: the report inlines it,
// the console serves it.
//
//go:embed report.css
var CSS string

// page is the HTML template, parsed once per WriteHTML (it is small).
func page() (*template.Template, error) {
	t, err := visuals()
	if err != nil {
		return nil, err
	}
	return t.New("report").Funcs(template.FuncMap{"css": func() template.CSS { return template.CSS(CSS) }}).Parse(htmlSource)
}

// visuals is the template set of the cards and the charts ("cards", "charts").
func visuals() (*template.Template, error) {
	return template.New("visuals").Funcs(template.FuncMap{
		"pct": pct, "usd": usd, "usdPtr": usdPtr, "secondsPtr": secondsPtr, "time": fmtTime,
		"timePtr": fmtTimePtr, "stage": stageLabel, "key": keyLabel, "reason": reasonLabel, "rejects": rejectsText, "calls": calls,
		"num":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"matched": matchedText, "flags": func(f []string) string { return strings.Join(f, ", ") },
		"width": func(s *float64) float64 {
			if s == nil {
				return 0
			}
			return math.Round(*s*1000) / 10
		},
	}).Parse(visualsSource)
}

// Chart geometry, in the SVG's own units: every chart is drawn for a phone's width and scales.
const (
	chartWidth  = 360.0
	rowHeight   = 34.0 // a horizontal bar with its label above
	barTop      = 16.0 // from the row's top to its bar
	barHeight   = 14.0
	columnsTop  = 12.0 // room above vertical bars for their values
	columnsH    = 130.0
	axisH       = 22.0
	labelGutter = 4.0
)

// chart is an SVG chart ready to draw: its marks carry data-mark, so a test (or a script) can
// count them.
type chart struct {
	// ID is the chart's data-chart attribute; Title its heading; Desc its accessible summary.
	ID, Title, Desc string
	Width, Height   float64
	Marks           []mark
	Labels          []label
	// Empty is shown instead of the chart when it has no data.
	Empty string
}

// mark is a bar: a rect with data-mark (its series) and a title (its tooltip).
type mark struct {
	X, Y, W, H    float64
	Series, Class string
	Title         string
}

// label is a text of a chart.
type label struct {
	X, Y         float64
	Text, Anchor string
	Class        string
}

// barRow is one bar of a horizontal bar chart.
type barRow struct {
	label, value, class, title string
	v                          float64
}

// hbars draws a horizontal bar chart, one row per bar: the label and value above the bar, the
// bar's length proportional to v (the largest spans the width).
func hbars(id, title, desc, empty string, rows []barRow) chart {
	c := chart{ID: id, Title: title, Desc: desc, Width: chartWidth, Height: rowHeight * float64(len(rows))}
	if len(rows) == 0 {
		c.Empty, c.Height = empty, 0
		return c
	}
	most := 0.0
	for _, r := range rows {
		most = max(most, r.v)
	}
	for i, r := range rows {
		y := float64(i) * rowHeight
		w := 0.0
		if most > 0 {
			w = chartWidth * r.v / most
		}
		c.Marks = append(c.Marks, mark{X: 0, Y: y + barTop, W: w, H: barHeight, Series: id, Class: r.class, Title: r.title})
		c.Labels = append(c.Labels,
			label{X: 0, Y: y + barTop - labelGutter, Text: r.label, Anchor: "start", Class: "l"},
			label{X: chartWidth, Y: y + barTop - labelGutter, Text: r.value, Anchor: "end", Class: "v"})
	}
	return c
}

// column is one bar of a vertical bar chart, with an optional inner bar (a part of it).
type column struct {
	axis, title string
	v, part     float64
	showAxis    bool
}

// columns draws a vertical bar chart: a bar per column (series id) and, when parts is set, an
// inner bar of that series per column; axis labels under the columns that show them.
func columns(id, title, desc, parts string, cols []column) chart {
	c := chart{ID: id, Title: title, Desc: desc, Width: chartWidth, Height: columnsTop + columnsH + axisH}
	most := 0.0
	for _, col := range cols {
		most = max(most, col.v)
	}
	step := chartWidth / float64(len(cols))
	gap := step * 0.15
	base := columnsTop + columnsH
	height := func(v float64) float64 {
		if most == 0 {
			return 0
		}
		return columnsH * v / most
	}
	for i, col := range cols {
		x := float64(i)*step + gap/2
		h := height(col.v)
		c.Marks = append(c.Marks, mark{X: x, Y: base - h, W: step - gap, H: h, Series: id, Class: "m-all", Title: col.title})
		if parts != "" {
			ph := height(col.part)
			c.Marks = append(c.Marks, mark{X: x, Y: base - ph, W: step - gap, H: ph, Series: parts, Class: "m-part", Title: col.title})
		}
		if col.showAxis {
			c.Labels = append(c.Labels, label{X: x + (step-gap)/2, Y: base + 15, Text: col.axis, Anchor: "middle", Class: "a"})
		}
		if col.v > 0 && len(cols) <= 12 {
			c.Labels = append(c.Labels, label{X: x + (step-gap)/2, Y: base - h - 3, Text: fmt.Sprint(col.v), Anchor: "middle", Class: "v"})
		}
	}
	return c
}

// htmlView is what the template draws.
type htmlView struct {
	R      *Report
	Charts []chart
	// Cards are the headline figures.
	Cards []card
	// Comparisons are the analytics' tables.
	Comparisons []comparisonTable
}

// comparisonTable is a table of the analytics comparison.
type comparisonTable struct {
	Title string
	Rows  []ComparisonRow
}

// card is a headline figure.
type card struct{ Label, Value, Sub string }

// Chart ids (data-chart) and the series of their marks (data-mark).
const (
	ChartFunnel   = "funnel"
	ChartOutcomes = "outcomes"
	ChartCost     = "cost"
	ChartDuration = "duration"
	ChartHours    = "hours"
	// SeriesConnected marks the connected calls inside the hours chart's bars.
	SeriesConnected = "connected"
)

// ChartMarks says how many marks (elements with data-mark) each chart of r's HTML form has.
func ChartMarks(r *Report) map[string]int {
	return map[string]int{
		ChartFunnel:   len(r.Funnel),
		ChartOutcomes: len(r.Outcomes),
		ChartCost:     len(r.Cost.ByOutcome),
		ChartDuration: len(r.Duration.Histogram),
		ChartHours:    2 * len(r.Hours.ByHour),
	}
}

// charts builds the HTML form's charts.
func charts(r *Report) []chart {
	var funnel []barRow
	for _, s := range r.Funnel {
		funnel = append(funnel, barRow{label: stageLabel(s.Stage), value: fmt.Sprintf("%d · %s", s.Contacts, pct(s.ShareOfContacts)),
			class: "m-" + s.Stage, v: float64(s.Contacts), title: fmt.Sprintf("%s: %d contacts", stageLabel(s.Stage), s.Contacts)})
	}
	var outcomes []barRow
	for _, o := range r.Outcomes {
		outcomes = append(outcomes, barRow{label: o.Outcome, value: fmt.Sprintf("%d · %s", o.Contacts, pct(o.Share)),
			class: outcomeClass(o.Outcome), v: float64(o.Contacts), title: fmt.Sprintf("%s: %d contacts", o.Outcome, o.Contacts)})
	}
	var cost []barRow
	for _, o := range r.Cost.ByOutcome {
		cost = append(cost, barRow{label: fmt.Sprintf("%s (%s)", o.Outcome, calls(o.Calls)), value: usd(o.CostUSD),
			class: outcomeClass(o.Outcome), v: o.CostUSD, title: fmt.Sprintf("%s: %s", o.Outcome, usd(o.CostUSD))})
	}
	var dur []column
	for _, b := range r.Duration.Histogram {
		dur = append(dur, column{axis: bucketAxis(b), v: float64(b.Calls), showAxis: true,
			title: fmt.Sprintf("%s: %s", bucketLabel(b), calls(b.Calls))})
	}
	var hrs []column
	for _, h := range r.Hours.ByHour {
		hrs = append(hrs, column{axis: fmt.Sprintf("%02d", h.Hour), v: float64(h.Calls), part: float64(h.Connected),
			showAxis: h.Hour%3 == 0, title: fmt.Sprintf("%02d:00: %s, %d connected", h.Hour, calls(h.Calls), h.Connected)})
	}
	return []chart{
		hbars(ChartFunnel, "Funnel", "Contacts, dialed, connected to a person and successful", "", funnel),
		hbars(ChartOutcomes, "Outcomes", "Contacts by outcome", "No contacts.", outcomes),
		hbars(ChartCost, "Cost by call outcome", "What the calls of each outcome cost", "No calls yet.", cost),
		columns(ChartDuration, "Duration of connected calls", "Connected calls by duration", "", dur),
		columns(ChartHours, "Calls by local hour", "Calls (light) and connected calls (dark) by the contact's local hour",
			SeriesConnected, hrs),
	}
}

// outcomeClass is the CSS class of an outcome's bars.
func outcomeClass(o string) string {
	switch o {
	case "completed", "voicemail", "no_answer", "busy", "failed_retryable", "failed_permanent", NoOutcome:
		return "o-" + o
	}
	return "o-other"
}

// cards are the headline figures of r.
func cards(r *Report) []card {
	f := r.Funnel
	return []card{
		{"Contacts", fmt.Sprint(f[0].Contacts), fmt.Sprintf("%d final", r.Contacts.Final)},
		{"Dialed", fmt.Sprint(f[1].Contacts), pct(f[1].ShareOfContacts) + " of contacts"},
		{"Connected", fmt.Sprint(f[2].Contacts), pct(f[2].ShareOfPrevious) + " of dialed"},
		{"Successful", fmt.Sprint(f[3].Contacts), pct(f[3].ShareOfPrevious) + " of connected"},
		{"Cost", usd(r.Cost.TotalUSD), usdPtr(r.Cost.PerSuccessUSD) + " a success"},
		{"Median call", secondsPtr(r.Duration.P50Seconds), "p90 " + secondsPtr(r.Duration.P90Seconds)},
	}
}

// Visuals renders the headline cards and the SVG charts of r, as the HTML report draws them
// (its CSS styles them), for a page of the console: one source of both.
func Visuals(r *Report) (cardsHTML, chartsHTML template.HTML, err error) {
	t, err := visuals()
	if err != nil {
		return "", "", fmt.Errorf("report template: %w", err)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "cards", cards(r)); err != nil {
		return "", "", fmt.Errorf("report cards: %w", err)
	}
	cardsHTML = template.HTML(b.String()) // html/template escaped it
	b.Reset()
	if err := t.ExecuteTemplate(&b, "charts", charts(r)); err != nil {
		return "", "", fmt.Errorf("report charts: %w", err)
	}
	return cardsHTML, template.HTML(b.String()), nil
}

// WriteHTML writes r as one self-contained HTML page: inline CSS and SVG, no script and no
// external resource, laid out for a phone as well as a desktop. Its charts (funnel, outcomes,
// cost, duration, hours) mark every bar with data-mark (see ChartMarks).
func WriteHTML(w io.Writer, r *Report) error {
	t, err := page()
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	v := htmlView{R: r, Charts: charts(r), Cards: cards(r)}
	if a := r.Analytics; a != nil {
		v.Comparisons = []comparisonTable{{"Ended reason", a.ByEndedReason}, {"Success evaluation", a.BySuccessEvaluation}}
	}
	return t.Execute(w, v)
}
