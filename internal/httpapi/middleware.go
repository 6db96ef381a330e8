package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"payhub/contracts"
	"payhub/internal/carddata"
)

type ctxKey int

const callerKey ctxKey = iota

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID gives every request an id — the caller's X-Request-Id when it is sane and
// carries nothing that looks like a card number (internal/carddata; a UUID or ULID never
// does), else a fresh one — and echoes it on the response, so logs, problems and support
// tickets line up. An id with card data is not refused, it is replaced: the id goes on
// every log line and into problem bodies, so it must never hold card data (docs/security.md
// §11), and a till that sends a card number there learns it from the id that comes back.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !saneRequestID.MatchString(id) || carddata.ContainsCardNumber(id) {
			id = freshRequestID()
		}
		c.Header("X-Request-Id", id)
		c.Request = c.Request.WithContext(contracts.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// freshRequestID mints "req_" and 24 hex digits, never one whose digits read as a card
// number.
func freshRequestID() string {
	for {
		var b [12]byte
		_, _ = rand.Read(b[:])
		if id := "req_" + hex.EncodeToString(b[:]); !carddata.ContainsCardNumber(id) {
			return id
		}
	}
}

// withAPIVersion stamps API-Version on every response and refuses versions payhub does not
// know (docs/api.md §7).
func withAPIVersion(version string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("API-Version", version)
		if v := c.GetHeader("API-Version"); v != "" && v != version {
			writeProblem(c, contracts.Errorf(contracts.CodeAPIVersionUnsupported,
				"This API version is not supported; this server speaks %s.", version))
			return
		}
		c.Next()
	}
}

// withAccessLog logs one line per request: never headers, bodies or tokens.
func (s *Server) withAccessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		attrs := []any{"method", c.Request.Method, "route", c.FullPath(), "status", c.Writer.Status(),
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
		if caller, ok := c.Request.Context().Value(callerKey).(callerInfo); ok {
			attrs = append(attrs, "client_id", caller.ClientID, "store_id", caller.StoreID)
		}
		s.log.InfoContext(c.Request.Context(), "http request", attrs...)
	}
}

// httpMetrics counts and times requests by route template.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payhub_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "payhub_http_request_seconds", Help: "HTTP request latency by method and route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
		m.duration.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
	}
}

// withRecovery turns a panic into a 500 problem and a log line with the request id.
func (s *Server) withRecovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.writeError(c, fmt.Errorf("panic: %v", r))
			}
		}()
		c.Next()
	}
}
