package hub_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/infra/internal/tpltest"
)

var update = flag.Bool("update", false, "rewrite testdata/dashboard.txt (the docs show it: go generate ./functions/catalog)")

// TestDashboard_Layout renders the synthesized dashboard's layout as text:
// each widget with its place, size, title and what it plots. The docs embed
// this file (go generate ./functions/catalog), so they show the dashboard
// the stack really builds.
func TestDashboard_Layout(t *testing.T) {
	var raw any
	for _, d := range resources(t, "AWS::CloudWatch::Dashboard") {
		raw = d["DashboardBody"]
	}
	var body struct {
		Widgets []struct {
			Type          string `json:"type"`
			X, Y          int
			Width, Height int
			Properties    struct {
				Title    string  `json:"title"`
				Markdown string  `json:"markdown"`
				Metrics  [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(joined(raw)), &body); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	sort.SliceStable(body.Widgets, func(i, j int) bool {
		a, b := body.Widgets[i], body.Widgets[j]
		return a.Y < b.Y || a.Y == b.Y && a.X < b.X
	})
	var b strings.Builder
	b.WriteString("Dashboard \"kmsguard\" (hub account, home Region): 24 columns; x,y width×height\n")
	for _, w := range body.Widgets {
		title := w.Properties.Title
		if w.Type == "text" {
			title = strings.SplitN(strings.TrimPrefix(w.Properties.Markdown, "# "), "\n", 2)[0] + " (text)"
		}
		fmt.Fprintf(&b, "\n[%d,%d %d×%d] %s\n", w.X, w.Y, w.Width, w.Height, title)
		for _, m := range w.Properties.Metrics {
			fmt.Fprintf(&b, "  %s\n", metricLine(m))
		}
	}
	var alarms []string
	for _, a := range resources(t, "AWS::CloudWatch::Alarm") {
		if d, _ := a["AlarmDescription"].(string); strings.Contains(tpltest.JSON(a["Metrics"]), "failures / events") {
			alarms = append(alarms, "  "+d)
		}
	}
	sort.Strings(alarms)
	b.WriteString("\nFailure-rate alarms (to the alert topic):\n" + strings.Join(alarms, "\n") + "\n")
	golden := filepath.Join("testdata", "dashboard.txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./infra/hub -run TestDashboard_Layout -update)", err)
	}
	if string(want) != b.String() {
		t.Errorf("the dashboard changed: go test ./infra/hub -run TestDashboard_Layout -update, then go generate ./functions/catalog\n%s", b.String())
	}
}

// joined is the dashboard body's Fn::Join with each token (a queue's name)
// shown as <ref>.
func joined(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		s, _ := v.(string)
		return s
	}
	j, ok := m["Fn::Join"].([]any)
	if !ok {
		return "<ref>"
	}
	var b strings.Builder
	for _, p := range j[1].([]any) {
		if s, ok := p.(string); ok {
			b.WriteString(s)
		} else {
			b.WriteString("<ref>")
		}
	}
	return b.String()
}

// metricLine is "Namespace MetricName dim=value ... (stat, period)".
func metricLine(m []any) string {
	var parts []string
	var opts map[string]any
	for _, x := range m {
		switch v := x.(type) {
		case string:
			parts = append(parts, v)
		case map[string]any:
			opts = v
		}
	}
	// [namespace, metric, dim, value, dim, value...]
	s := ""
	if len(parts) >= 2 {
		s = parts[0] + " " + parts[1]
		for i := 2; i+1 < len(parts); i += 2 {
			s += " " + parts[i] + "=" + parts[i+1]
		}
	}
	if opts != nil {
		var o []string
		for _, k := range []string{"label", "stat", "period"} {
			if v, ok := opts[k]; ok {
				o = append(o, fmt.Sprintf("%s %v", k, v))
			}
		}
		s += " (" + strings.Join(o, ", ") + ")"
	}
	return s
}
