package metrictest_test

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/internal/metrictest"
)

func TestLabelsValueSum(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total"}, []string{"host"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "y"})
	reg.MustRegister(c, g)
	c.WithLabelValues("a").Add(2)
	c.WithLabelValues("b").Add(3)
	g.Set(7)
	labels, names := metrictest.Labels(t, reg)
	if want := []metrictest.Label{{"x_total", "host", "a"}, {"x_total", "host", "b"}}; !slices.Equal(labels, want) {
		t.Errorf("Labels: %v, want %v", labels, want)
	}
	if want := []string{"x_total", "y"}; !slices.Equal(names, want) {
		t.Errorf("Names: %v, want %v", names, want)
	}
	if v := metrictest.Value(t, reg, "x_total", "host", "b"); v != 3 {
		t.Errorf("Value: %v", v)
	}
	if v := metrictest.Sum(t, reg, "x_total"); v != 5 {
		t.Errorf("Sum: %v", v)
	}
}
