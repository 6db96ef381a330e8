package paypay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"payhub/contracts"
)

// MaxNotificationBytes is the largest callback body ParseNotification reads. PayPay's
// Transaction events are well under a kilobyte.
const MaxNotificationBytes = 64 << 10

// notificationTypeTransaction is the notification_type of a payment event (docs/partners/paypay.md §10).
const notificationTypeTransaction = "Transaction"

// ErrNotAPaymentNotification is returned by ParseNotification for a well-formed PayPay
// callback that is not about a payment: any notification_type other than "Transaction",
// such as "file.created" (the daily reconciliation file, docs/partners/paypay.md §10). Such a callback
// is not an error on PayPay's side; the caller acknowledges it and moves no payment. It
// wraps contracts.ErrNotAPaymentNotification.
var ErrNotAPaymentNotification = fmt.Errorf("paypay: %w", contracts.ErrNotAPaymentNotification)

// ErrInvalidNotification is wrapped by every ParseNotification error for a body that cannot
// be a PayPay Transaction notification: too large, not one JSON object, a field of the
// wrong type, neither order_id nor merchant_order_id, an unknown state, an unreadable time
// or amount.
var ErrInvalidNotification = errors.New("paypay: invalid notification")

// ErrOtherMerchant is returned by ParseNotification for a Transaction notification whose
// merchant_id is missing or is not the adapter's Config.MerchantID.
var ErrOtherMerchant = errors.New("paypay: notification for another merchant")

var _ contracts.NotificationParser = (*Adapter)(nil)

// notificationStates are the states a Transaction notification may carry (docs/partners/paypay.md §10).
var notificationStates = map[string]bool{
	statusAuthorized: true, statusCompleted: true, statusCanceled: true, statusExpired: true, statusFailed: true,
}

// notificationFields are the members of a Transaction notification the adapter reads. A
// member spelled like one of them in another case is refused (encoding/json would match it
// case-insensitively; the scan below does not); any other member is ignored, since PayPay
// adds fields.
var notificationFields = []string{
	"notification_type", "merchant_id", "order_id", "merchant_order_id", "order_amount", "state",
	"authorized_at", "expires_at", "paid_at",
}

// maxNotificationIDLen bounds order_id, merchant_order_id and merchant_id. PayPay's ids are
// a few dozen characters; merchantPaymentId is at most 64 (docs/partners/paypay.md §4).
const maxNotificationIDLen = 128

// maxOrderAmountDigits is OPA's amount limit: an integer of at most 11 digits (docs/partners/paypay.md §1).
const maxOrderAmountDigits = 11

// transaction is one Transaction notification as read, before it becomes a
// contracts.PartnerNotification.
type transaction struct {
	merchantID      string
	orderID         string // PayPay's paymentId
	merchantOrderID string // merchantPaymentId; empty in AUTHORIZED events
	state           string
	amount          int64 // order_amount; 0 when absent or null
	hasAmount       bool
	authorizedAt    *time.Time
	expiresAt       *time.Time
	paidAt          *time.Time
}

// ParseNotification reads one PayPay callback body (docs/partners/paypay.md §10) as a hint that a payment
// may have moved; payhub confirms with GetPayment before acting on it.
//
// Only notification_type "Transaction" is a payment notification; any other type answers
// ErrNotAPaymentNotification. The result carries EventID order_id + ":" + state (PayPay's
// dedupe key; when a callback names no order_id it is "merchant_order_id:" +
// merchant_order_id + ":" + state instead), PartnerRef = merchant_order_id (may be empty, as
// in PayPay's AUTHORIZED examples), PartnerPaymentID = order_id, State = state, and
// OccurredAt = paid_at, else authorized_at, when given.
//
// Refused (errors wrapping ErrInvalidNotification, or ErrOtherMerchant): a body over
// MaxNotificationBytes, invalid UTF-8, anything but exactly one JSON object, duplicate
// members, a read member spelled in another case, a read member of the wrong JSON type,
// neither order_id nor merchant_order_id, ids longer than 128 bytes or with characters
// outside printable ASCII, a state other than AUTHORIZED, COMPLETED, CANCELED, EXPIRED or
// FAILED, order_amount that is not a whole number of at most 11 digits (a JSON number or a
// string of digits; absent or null is accepted), a time that is not ISO-8601 (null and ""
// mean "not given"), and a merchant_id other than Config.MerchantID. store_id, pos_id and
// every other member are ignored. Errors describe the body; they never quote it.
func (a *Adapter) ParseNotification(body []byte) (contracts.PartnerNotification, error) {
	tx, err := parseTransaction(body)
	if err != nil {
		return contracts.PartnerNotification{}, err
	}
	if tx.merchantID != a.cfg.MerchantID {
		if tx.merchantID == "" {
			return contracts.PartnerNotification{}, fmt.Errorf("%w: merchant_id is missing", ErrOtherMerchant)
		}
		return contracts.PartnerNotification{}, fmt.Errorf("%w: merchant_id %s is not the configured merchant", ErrOtherMerchant, quote(tx.merchantID))
	}
	n := contracts.PartnerNotification{
		EventID:          tx.eventID(),
		PartnerRef:       tx.merchantOrderID,
		PartnerPaymentID: tx.orderID,
		State:            tx.state,
		OccurredAt:       tx.paidAt,
	}
	if n.OccurredAt == nil {
		n.OccurredAt = tx.authorizedAt
	}
	return n, nil
}

// eventID is PayPay's dedupe key (order_id, state); without an order_id, the
// merchant_order_id under a prefix no order_id of PayPay's carries.
func (tx transaction) eventID() string {
	if tx.orderID != "" {
		return tx.orderID + ":" + tx.state
	}
	return "merchant_order_id:" + tx.merchantOrderID + ":" + tx.state
}

// parseTransaction reads a callback body into a transaction, or refuses it. It does not
// check the merchant.
func parseTransaction(body []byte) (transaction, error) {
	if len(body) > MaxNotificationBytes {
		return transaction{}, invalid("body of %d bytes is over the %d-byte limit", len(body), MaxNotificationBytes)
	}
	if !utf8.Valid(body) {
		return transaction{}, invalid("body of %d bytes is not valid UTF-8", len(body))
	}
	members, err := scanObject(body)
	if err != nil {
		return transaction{}, err
	}

	kind, present, err := stringMember(members, "notification_type")
	switch {
	case err != nil:
		return transaction{}, err
	case !present || kind == "":
		return transaction{}, invalid("notification_type is missing")
	case kind != notificationTypeTransaction:
		return transaction{}, fmt.Errorf("%w: notification_type %s", ErrNotAPaymentNotification, quote(kind))
	}

	var tx transaction
	for _, f := range []struct {
		name string
		dst  *string
	}{{"merchant_id", &tx.merchantID}, {"order_id", &tx.orderID}, {"merchant_order_id", &tx.merchantOrderID}} {
		if *f.dst, _, err = stringMember(members, f.name); err != nil {
			return transaction{}, err
		}
		if err := checkNotificationID(f.name, *f.dst); err != nil {
			return transaction{}, err
		}
	}
	if tx.orderID == "" && tx.merchantOrderID == "" {
		return transaction{}, invalid("neither order_id nor merchant_order_id is given")
	}

	if tx.state, _, err = stringMember(members, "state"); err != nil {
		return transaction{}, err
	}
	if !notificationStates[tx.state] {
		if tx.state == "" {
			return transaction{}, invalid("state is missing")
		}
		return transaction{}, invalid("state %s is not a PayPay Transaction state", quote(tx.state))
	}

	if tx.amount, tx.hasAmount, err = amountMember(members, "order_amount"); err != nil {
		return transaction{}, err
	}
	for _, f := range []struct {
		name string
		dst  **time.Time
	}{{"authorized_at", &tx.authorizedAt}, {"expires_at", &tx.expiresAt}, {"paid_at", &tx.paidAt}} {
		if *f.dst, err = timeMember(members, f.name); err != nil {
			return transaction{}, err
		}
	}
	return tx, nil
}

// invalid is an ErrInvalidNotification with a description.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidNotification}, args...)...)
}

// quote renders an untrusted value for an error message: Go-quoted, so control characters
// cannot forge log lines, and cut to at most 40 runes and about 100 bytes once escaped.
func quote(s string) string {
	for n := 40; ; n /= 2 {
		cut := truncate(s, n)
		q := fmt.Sprintf("%q", cut)
		if len(q) <= 100 || n == 0 {
			if cut != s {
				q += "…"
			}
			return q
		}
	}
}

// scanObject reads body as exactly one JSON object and returns its members, raw. Unlike
// encoding/json's struct decoding it refuses duplicate members (which would otherwise let
// the last one win) and read members spelled in another case.
func scanObject(body []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, invalid("body of %d bytes is not a JSON object", len(body))
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(body, err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, invalid("malformed JSON object")
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, syntaxError(body, err)
		}
		if _, dup := members[name]; dup {
			return nil, invalid("member %s appears twice", quote(name))
		}
		for _, known := range notificationFields {
			if name != known && strings.EqualFold(name, known) {
				return nil, invalid("member %s is %s spelled in another case", quote(name), known)
			}
		}
		members[name] = value
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(body, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("data after the JSON object")
	}
	return members, nil
}

// syntaxError describes a JSON decoding error by position, never by content.
func syntaxError(body []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid("malformed JSON at byte %d of %d", se.Offset, len(body))
	}
	return invalid("malformed or truncated JSON (%d bytes)", len(body))
}

// isNull reports an absent member or a JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// stringMember reads a string member; absent and null read as "" (present reports whether
// the member was there at all). Any other JSON type is an error.
func stringMember(members map[string]json.RawMessage, name string) (value string, present bool, err error) {
	raw, present := members[name]
	if isNull(raw) {
		return "", present, nil
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		return "", true, invalid("%s is not a string", name)
	}
	return value, true, nil
}

// checkNotificationID refuses an id payhub could not look up or safely log.
func checkNotificationID(name, id string) error {
	if len(id) > maxNotificationIDLen {
		return invalid("%s is longer than %d bytes", name, maxNotificationIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return invalid("%s %s has characters outside printable ASCII", name, quote(id))
		}
	}
	return nil
}

// amountMember reads order_amount: a JSON number or a string of digits (PayPay's docs show
// a string), a whole number of at most 11 digits. Absent or null reads as not given.
func amountMember(members map[string]json.RawMessage, name string) (int64, bool, error) {
	raw := members[name]
	if isNull(raw) {
		return 0, false, nil
	}
	digits := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &digits); err != nil {
			return 0, false, invalid("%s is not a number or a string", name)
		}
	} else if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false, invalid("%s is not a number or a string", name)
	}
	if digits == "" || len(digits) > maxOrderAmountDigits {
		return 0, false, invalid("%s is not a whole amount of 1 to %d digits", name, maxOrderAmountDigits)
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false, invalid("%s is not a whole amount of 1 to %d digits", name, maxOrderAmountDigits)
		}
		n = n*10 + int64(c-'0')
	}
	return n, true, nil
}

// notificationTimeLayouts are the ISO-8601 forms accepted for webhook times, which PayPay
// sends as UTC strings ("2020-06-23T06:27:52Z"). A time without an offset is read as UTC.
var notificationTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
}

// timeMember reads an ISO-8601 time member; absent, null and "" read as not given.
func timeMember(members map[string]json.RawMessage, name string) (*time.Time, error) {
	s, _, err := stringMember(members, name)
	if err != nil || s == "" {
		return nil, err
	}
	for _, layout := range notificationTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, invalid("%s %s is not an ISO-8601 time", name, quote(s))
}
