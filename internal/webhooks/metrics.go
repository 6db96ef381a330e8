package webhooks

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the deliverer's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	sends    *prometheus.CounterVec
	latency  prometheus.Histogram
	disabled prometheus.Counter
	running  prometheus.Gauge
}

// NewMetrics registers the deliverer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payhub_webhook_sends_total", Help: "Store-notification sends, by result (delivered, retry, failed).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "payhub_webhook_send_seconds", Help: "Store-notification send latency.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "payhub_webhook_endpoints_disabled_total", Help: "Webhook endpoints disabled (410 Gone or ~3 days of failures): alert on any.",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "payhub_webhook_sends_in_flight", Help: "Store-notification sends this process has in flight (at most its concurrency).",
		}),
	}
	reg.MustRegister(m.sends, m.latency, m.disabled, m.running)
	return m
}

func (m *Metrics) sent(result string, seconds float64) {
	if m != nil {
		m.sends.WithLabelValues(result).Inc()
		m.latency.Observe(seconds)
	}
}

func (m *Metrics) endpointDisabled() {
	if m != nil {
		m.disabled.Inc()
	}
}

func (m *Metrics) inFlight(n int) {
	if m != nil {
		m.running.Set(float64(n))
	}
}
