package paypay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"payhub/mocks/sim"
)

// Delivery states of a Notification.
const (
	// NotificationPending: queued or being tried.
	NotificationPending = "pending"
	// NotificationDelivered: the receiver answered 2xx.
	NotificationDelivered = "delivered"
	// NotificationFailed: every attempt failed (non-2xx, transport error or timeout); PayPay
	// drops the event then, and so does the simulator.
	NotificationFailed = "failed"
	// NotificationDropped: discarded by Config.WebhookDrop, never sent.
	NotificationDropped = "dropped"
)

// notificationTypeTransaction is the notification_type of a payment event
// (docs/partners/paypay.md §10).
const notificationTypeTransaction = "Transaction"

// webhookDropSeed seeds the random source of Config.WebhookDrop: fixed, so a run is
// repeatable.
const webhookDropSeed = 0x9a79a7

// maxWebhookResponseBytes is how much of a receiver's answer is read (and discarded).
const maxWebhookResponseBytes = 64 << 10

// Notification is one Transaction notification the simulator sent, or decided not to, with
// its delivery result. Simulator.Notifications and GET /_sim/notifications list them.
type Notification struct {
	// Seq numbers the deliveries from 1 in the order they were queued.
	Seq int `json:"seq"`
	// Copy is 1, or 2 for the second delivery of Config.WebhookDuplicate.
	Copy int `json:"copy"`
	// MerchantPaymentID and PaymentID name the payment (MerchantPaymentID even when the
	// payload's merchant_order_id is empty, as in AUTHORIZED events).
	MerchantPaymentID string `json:"merchantPaymentId"`
	PaymentID         string `json:"paymentId"`
	// State is the payload's state: COMPLETED, AUTHORIZED, EXPIRED or CANCELED.
	State string `json:"state"`
	// QueuedAt is the simulator clock when the payment changed.
	QueuedAt time.Time `json:"queuedAt"`
	// Payload is the exact body POSTed.
	Payload json.RawMessage `json:"payload"`
	// Status is NotificationPending, NotificationDelivered, NotificationFailed or
	// NotificationDropped.
	Status string `json:"status"`
	// Attempts counts the POSTs made so far.
	Attempts int `json:"attempts"`
	// LastHTTPStatus is the receiver's status on the last attempt; 0 after a transport error.
	LastHTTPStatus int `json:"lastHttpStatus,omitempty"`
	// LastError explains the last failed attempt.
	LastError string `json:"lastError,omitempty"`
}

// transactionPayload is PayPay's Transaction notification (docs/partners/paypay.md §10).
// order_amount is a string, as in PayPay's docs; times are ISO-8601 UTC strings or null.
type transactionPayload struct {
	NotificationType      string  `json:"notification_type"`
	MerchantID            string  `json:"merchant_id"`
	StoreID               string  `json:"store_id"`
	PosID                 string  `json:"pos_id"`
	OrderID               string  `json:"order_id"`
	MerchantOrderID       string  `json:"merchant_order_id"`
	OrderAmount           string  `json:"order_amount"`
	State                 string  `json:"state"`
	AuthorizedAt          *string `json:"authorized_at"`
	ExpiresAt             *string `json:"expires_at"`
	PaidAt                *string `json:"paid_at"`
	ReauthRequestID       *string `json:"reauth_request_id"`
	ConfirmationExpiresAt *string `json:"confirmation_expires_at"`
}

// isoOrNull renders a time as an ISO-8601 UTC string, or null when unset.
func isoOrNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// notify queues the Transaction notification of p's new state. It only builds the payload
// (a snapshot of p now) and queues it: delivery runs on the sender's own goroutine, without
// s.mu. Caller holds s.mu.
func (s *Simulator) notify(p *payment, state string) {
	if s.cfg.WebhookURL == "" {
		return
	}
	body := transactionPayload{
		NotificationType: notificationTypeTransaction,
		MerchantID:       s.cfg.MerchantID,
		StoreID:          p.storeID,
		PosID:            p.terminalID,
		OrderID:          p.paymentID,
		MerchantOrderID:  p.merchantPaymentID,
		OrderAmount:      strconv.FormatInt(p.amount, 10),
		State:            state,
	}
	if p.preAuth {
		body.AuthorizedAt, body.ExpiresAt = isoOrNull(p.acceptedAt), isoOrNull(p.authExpiresAt)
	}
	switch state {
	case StatusAuthorized:
		// PayPay's AUTHORIZED examples carry an empty merchant_order_id
		// (docs/partners/paypay.md §10).
		body.MerchantOrderID = ""
	case StatusCompleted:
		body.PaidAt = isoOrNull(p.paidAt())
		body.OrderAmount = strconv.FormatInt(p.paid(), 10)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic("paypay sim: notification does not marshal: " + err.Error())
	}
	s.webhooks.enqueue(Notification{
		MerchantPaymentID: p.merchantPaymentID, PaymentID: p.paymentID, State: state,
		QueuedAt: s.now(), Payload: raw,
	})
}

// Notifications lists every notification in the order queued, with its delivery result so
// far. Without Config.WebhookURL it is empty.
func (s *Simulator) Notifications() []Notification {
	return s.webhooks.list()
}

// FlushNotifications waits until the sender is idle — every notification queued before the
// call, and any queued while deliveries are still running, is delivered, failed or dropped —
// or until ctx ends (then ctx's error). Notifications are queued before the API answer that
// caused them is written, so after a call returns, FlushNotifications then Notifications
// shows its result without any sleeping.
func (s *Simulator) FlushNotifications(ctx context.Context) error {
	return s.webhooks.flush(ctx)
}

// simNotifications serves GET /_sim/notifications.
func (s *Simulator) simNotifications(w http.ResponseWriter, _ *http.Request, _ request) {
	sim.WriteJSON(w, http.StatusOK, map[string][]Notification{"notifications": s.Notifications()})
}

// webhookSender delivers notifications one at a time, in queue order, on a goroutine that
// runs only while there is work. Its lock is its own: the simulator's mu is never held
// during HTTP, and the sender never takes it.
type webhookSender struct {
	url        string
	drop       float64
	duplicate  bool
	attempts   int
	retryDelay time.Duration
	client     *http.Client

	mu      sync.Mutex
	rng     *rand.Rand
	log     []Notification
	queue   []int         // indexes into log awaiting delivery
	running bool          // the delivery goroutine is running
	idle    chan struct{} // closed while nothing is queued or in flight
}

func newWebhookSender(cfg Config) *webhookSender {
	idle := make(chan struct{})
	close(idle)
	return &webhookSender{
		url: cfg.WebhookURL, drop: cfg.WebhookDrop, duplicate: cfg.WebhookDuplicate,
		attempts: cfg.WebhookAttempts, retryDelay: cfg.WebhookRetryDelay,
		client: &http.Client{
			Timeout: cfg.WebhookTimeout,
			// PayPay's redirect handling is undocumented; a redirect counts as a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		rng:  rand.New(rand.NewPCG(webhookDropSeed, webhookDropSeed)),
		idle: idle,
	}
}

// enqueue records n and queues its delivery (twice with duplicate), or records it dropped.
func (w *webhookSender) enqueue(n Notification) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n.Copy, n.Status = 1, NotificationPending
	if w.drop > 0 && w.rng.Float64() < w.drop {
		n.Status = NotificationDropped
		w.record(n)
		return
	}
	w.queue = append(w.queue, w.record(n))
	if w.duplicate {
		n.Copy = 2
		w.queue = append(w.queue, w.record(n))
	}
	if !w.running {
		w.running = true
		w.idle = make(chan struct{})
		go w.run()
	}
}

// record appends n to the log with the next Seq and returns its index. Caller holds w.mu.
func (w *webhookSender) record(n Notification) int {
	n.Seq = len(w.log) + 1
	w.log = append(w.log, n)
	return len(w.log) - 1
}

// run delivers queued notifications until the queue is empty, then marks the sender idle.
func (w *webhookSender) run() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			close(w.idle)
			w.mu.Unlock()
			return
		}
		i := w.queue[0]
		w.queue = w.queue[1:]
		payload := w.log[i].Payload
		w.mu.Unlock()
		w.deliver(i, payload)
	}
}

// deliver POSTs one notification, retrying after a non-2xx answer or a transport error.
func (w *webhookSender) deliver(i int, payload []byte) {
	for attempt := 1; attempt <= w.attempts; attempt++ {
		if attempt > 1 {
			time.Sleep(w.retryDelay)
		}
		status, err := w.post(payload)
		w.mu.Lock()
		n := &w.log[i]
		n.Attempts, n.LastHTTPStatus, n.LastError = attempt, status, ""
		switch {
		case err != nil:
			n.LastError = err.Error()
		case status < 200 || status > 299:
			n.LastError = fmt.Sprintf("receiver answered HTTP %d", status)
		default:
			n.Status = NotificationDelivered
			w.mu.Unlock()
			return
		}
		if attempt == w.attempts {
			n.Status = NotificationFailed
		}
		w.mu.Unlock()
	}
}

// post sends one attempt and returns the receiver's HTTP status.
func (w *webhookSender) post(payload []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, w.url, bytes.NewReader(payload))
	if err != nil {
		return 0, fmt.Errorf("webhook URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "payhub-paypay-simulator")
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponseBytes))
	return resp.StatusCode, nil
}

// list copies the log.
func (w *webhookSender) list() []Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Notification{}, w.log...)
}

// flush waits for the sender to go idle or ctx to end.
func (w *webhookSender) flush(ctx context.Context) error {
	w.mu.Lock()
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
