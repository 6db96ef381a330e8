package hub

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"payhub/contracts"
)

// Metrics are the engine's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	payments     *prometheus.CounterVec
	refunds      *prometheus.CounterVec
	partnerCalls *prometheus.HistogramVec
	breakers     *prometheus.GaugeVec
	attention    *prometheus.CounterVec
	callbacks    *prometheus.CounterVec
	switches     *prometheus.CounterVec
	limits       *prometheus.CounterVec
	leases       *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payhub_payments_created_total", Help: "Payments created, by the outcome of the partner call.",
		}, []string{"outcome"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payhub_refunds_created_total", Help: "Refunds created, by the outcome of the partner call.",
		}, []string{"outcome"}),
		partnerCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "payhub_partner_call_seconds", Help: "Partner call latency, by method, operation and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"method", "operation", "outcome"}),
		breakers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payhub_partner_breaker_state", Help: "Per-partner circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"method"}),
	}
	m.attention = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payhub_needs_attention_total", Help: "Payments and refunds the resolver handed to an operator.",
	}, []string{"object"})
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payhub_partner_callbacks_total", Help: "Partner callbacks, by partner and what became of them (received, duplicate, refused, processed, ignored, rejected).",
	}, []string{"partner", "result"})
	m.switches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payhub_kill_switch_refusals_total", Help: "Requests a kill switch refused, by operation.",
	}, []string{"operation"})
	m.limits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payhub_limit_refusals_total", Help: "Requests a velocity or amount limit refused (429 limit_exceeded), by rule, subject kind and operation.",
	}, []string{"rule", "subject", "operation"})
	m.leases = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payhub_work_leases_busy_total", Help: "Objects and maintenance passes a background worker left because another instance (or worker) held their work lease, by kind.",
	}, []string{"kind"})
	reg.MustRegister(m.payments, m.refunds, m.partnerCalls, m.breakers, m.attention, m.callbacks, m.switches, m.limits, m.leases)
	return m
}

func (m *Metrics) switchRefusal(op contracts.ControlOperation) {
	if m != nil {
		m.switches.WithLabelValues(string(op)).Inc()
	}
}

func (m *Metrics) limitRefusal(r contracts.LimitRule) {
	if m != nil {
		m.limits.WithLabelValues(r.ID, string(r.Subject), string(r.Operation)).Inc()
	}
}

func (m *Metrics) paymentCreated(o contracts.Outcome) {
	if m != nil {
		m.payments.WithLabelValues(string(o)).Inc()
	}
}

func (m *Metrics) refundCreated(o contracts.Outcome) {
	if m != nil {
		m.refunds.WithLabelValues(string(o)).Inc()
	}
}

func (m *Metrics) partnerCall(method contracts.Method, op string, o contracts.Outcome, d time.Duration) {
	if m != nil {
		m.partnerCalls.WithLabelValues(string(method), op, string(o)).Observe(d.Seconds())
	}
}

func (m *Metrics) breakerState(method contracts.Method, s gobreaker.State) {
	if m != nil {
		m.breakers.WithLabelValues(string(method)).Set(float64(s))
	}
}

func (m *Metrics) leaseBusy(kind string) {
	if m != nil {
		m.leases.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) needsAttention(object string) {
	if m != nil {
		m.attention.WithLabelValues(object).Inc()
	}
}

func (m *Metrics) callback(partner contracts.Method, result string) {
	if m != nil {
		m.callbacks.WithLabelValues(string(partner), result).Inc()
	}
}
