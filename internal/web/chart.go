package web

import "github.com/hygie-health/hygie/internal/plot"

// The pages draw their charts with internal/plot.
type (
	Point     = plot.Point
	Series    = plot.Series
	LineChart = plot.LineChart
	Bar       = plot.Bar
	BarChart  = plot.BarChart
)

func unit() (*float64, *float64)                      { return plot.Unit() }
func finite(v float64) bool                           { return plot.Finite(v) }
func meanSD(vals []float64) (mean, sd float64, n int) { return plot.MeanSD(vals) }
