package paypay

import (
	"errors"
	"strings"
	"testing"
	"time"

	"payhub/contracts"
)

// webhookAdapter is an adapter configured for testMerchant; ParseNotification calls nobody.
func webhookAdapter(t *testing.T) *Adapter {
	t.Helper()
	a, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: testKey, APISecret: testSecret, MerchantID: testMerchant})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// PayPay's documented Transaction examples (docs/partners/paypay.md §10), with testMerchant.
const (
	completedCallback = `{"notification_type":"Transaction","merchant_id":"merchant-1","store_id":"st-1","pos_id":"",
		"order_id":"04116520829392322560","merchant_order_id":"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB_1","order_amount":"1200",
		"state":"COMPLETED","authorized_at":null,"expires_at":null,"paid_at":"2026-03-01T01:02:03Z",
		"reauth_request_id":null,"confirmation_expires_at":null}`
	authorizedCallback = `{"notification_type":"Transaction","merchant_id":"merchant-1","store_id":"st-1","pos_id":"till-1",
		"order_id":"04116520829392322561","merchant_order_id":"","order_amount":"900","state":"AUTHORIZED",
		"authorized_at":"2026-03-01T01:00:00Z","expires_at":"2026-03-08T01:00:00Z","paid_at":null}`
)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

func TestParseNotification(t *testing.T) {
	a := webhookAdapter(t)
	cases := []struct {
		name string
		body string
		want contracts.PartnerNotification
	}{
		{
			name: "completed, order_amount as a string",
			body: completedCallback,
			want: contracts.PartnerNotification{
				EventID: "04116520829392322560:COMPLETED", PartnerRef: "pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB_1",
				PartnerPaymentID: "04116520829392322560", State: "COMPLETED", OccurredAt: at("2026-03-01T01:02:03Z"),
			},
		},
		{
			name: "authorized, empty merchant_order_id, paid_at null",
			body: authorizedCallback,
			want: contracts.PartnerNotification{
				EventID: "04116520829392322561:AUTHORIZED", PartnerPaymentID: "04116520829392322561",
				State: "AUTHORIZED", OccurredAt: at("2026-03-01T01:00:00Z"),
			},
		},
		{
			name: "order_amount as a number, extra fields, times absent",
			body: `{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p1","merchant_order_id":"mp-1",
				"order_amount":1200,"state":"COMPLETED","new_field":{"nested":[1,2,3]},"another":true}`,
			want: contracts.PartnerNotification{EventID: "p1:COMPLETED", PartnerRef: "mp-1", PartnerPaymentID: "p1", State: "COMPLETED"},
		},
		{
			name: "all times null",
			body: `{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p2","merchant_order_id":"mp-2",
				"order_amount":"5","state":"EXPIRED","authorized_at":null,"expires_at":null,"paid_at":null}`,
			want: contracts.PartnerNotification{EventID: "p2:EXPIRED", PartnerRef: "mp-2", PartnerPaymentID: "p2", State: "EXPIRED"},
		},
		{
			name: "empty-string times mean not given; paid_at falls back to authorized_at",
			body: `{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p3","merchant_order_id":null,
				"state":"CANCELED","authorized_at":"2026-03-01T10:00:00+09:00","paid_at":""}`,
			want: contracts.PartnerNotification{EventID: "p3:CANCELED", PartnerPaymentID: "p3", State: "CANCELED",
				OccurredAt: at("2026-03-01T01:00:00Z")},
		},
		{
			name: "fractional seconds and an offset without colon",
			body: `{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p4","state":"COMPLETED",
				"paid_at":"2026-03-01T10:00:00.250+0900","order_amount":"0"}`,
			want: contracts.PartnerNotification{EventID: "p4:COMPLETED", PartnerPaymentID: "p4", State: "COMPLETED",
				OccurredAt: at("2026-03-01T01:00:00.25Z")},
		},
		{
			name: "no order_id: the merchant_order_id keys the event",
			body: `{"notification_type":"Transaction","merchant_id":"merchant-1","merchant_order_id":"mp-5","state":"FAILED"}`,
			want: contracts.PartnerNotification{EventID: "merchant_order_id:mp-5:FAILED", PartnerRef: "mp-5", State: "FAILED"},
		},
		{
			name: "whitespace around the object",
			body: " \n\t{\"notification_type\":\"Transaction\",\"merchant_id\":\"merchant-1\",\"order_id\":\"p6\",\"state\":\"COMPLETED\"}\n",
			want: contracts.PartnerNotification{EventID: "p6:COMPLETED", PartnerPaymentID: "p6", State: "COMPLETED"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.ParseNotification([]byte(tc.body))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got.EventID != tc.want.EventID || got.PartnerRef != tc.want.PartnerRef ||
				got.PartnerPaymentID != tc.want.PartnerPaymentID || got.State != tc.want.State {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			switch {
			case tc.want.OccurredAt == nil && got.OccurredAt != nil:
				t.Fatalf("OccurredAt %v, want none", got.OccurredAt)
			case tc.want.OccurredAt != nil && (got.OccurredAt == nil || !got.OccurredAt.Equal(*tc.want.OccurredAt)):
				t.Fatalf("OccurredAt %v, want %v", got.OccurredAt, tc.want.OccurredAt)
			case got.OccurredAt != nil && got.OccurredAt.Location() != time.UTC:
				t.Fatalf("OccurredAt %v is not UTC", got.OccurredAt)
			}
		})
	}
}

func TestParseNotificationAmount(t *testing.T) {
	for body, want := range map[string]int64{
		`"1200"`: 1200, `1200`: 1200, `"99999999999"`: 99_999_999_999, `0`: 0, `null`: 0,
	} {
		tx, err := parseTransaction([]byte(`{"notification_type":"Transaction","merchant_id":"m","order_id":"p","state":"COMPLETED","order_amount":` + body + `}`))
		if err != nil || tx.amount != want || tx.hasAmount != (body != "null") {
			t.Errorf("order_amount %s: got %d (given %v), %v; want %d", body, tx.amount, tx.hasAmount, err, want)
		}
	}
}

func TestParseNotificationRefusals(t *testing.T) {
	a := webhookAdapter(t)
	valid := func(replace ...string) string {
		return strings.NewReplacer(replace...).Replace(
			`{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p1","merchant_order_id":"mp-1","order_amount":"100","state":"COMPLETED","paid_at":"2026-03-01T01:02:03Z"}`)
	}
	huge := `{"notification_type":"Transaction","merchant_id":"merchant-1","order_id":"p1","state":"COMPLETED","pad":"` +
		strings.Repeat("x", MaxNotificationBytes) + `"}`
	cases := []struct {
		name string
		body string
		want error
	}{
		{"file.created", `{"notification_type":"file.created","path":"https://example.invalid/recon.csv"}`, ErrNotAPaymentNotification},
		{"other type", valid(`"Transaction"`, `"Refund"`), ErrNotAPaymentNotification},
		{"type in another case", valid(`"Transaction"`, `"transaction"`), ErrNotAPaymentNotification},
		{"wrong merchant", valid(`"merchant-1"`, `"merchant-2"`), ErrOtherMerchant},
		{"merchant missing", valid(`"merchant_id":"merchant-1",`, ``), ErrOtherMerchant},
		{"merchant null", valid(`"merchant-1"`, `null`), ErrOtherMerchant},
		{"empty body", ``, ErrInvalidNotification},
		{"not JSON", `<xml/>`, ErrInvalidNotification},
		{"JSON array", `[` + valid() + `]`, ErrInvalidNotification},
		{"JSON null", `null`, ErrInvalidNotification},
		{"JSON string", `"Transaction"`, ErrInvalidNotification},
		{"truncated", valid()[:60], ErrInvalidNotification},
		{"trailing object", valid() + `{}`, ErrInvalidNotification},
		{"trailing garbage", valid() + `x`, ErrInvalidNotification},
		{"two objects", valid() + valid(), ErrInvalidNotification},
		{"over 64 KiB", huge, ErrInvalidNotification},
		{"invalid UTF-8", valid(`"p1"`, "\"p\xff1\""), ErrInvalidNotification},
		{"type missing", valid(`"notification_type":"Transaction",`, ``), ErrInvalidNotification},
		{"type not a string", valid(`"Transaction"`, `1`), ErrInvalidNotification},
		{"no order_id nor merchant_order_id", valid(`"order_id":"p1","merchant_order_id":"mp-1",`, ``), ErrInvalidNotification},
		{"both ids empty", valid(`"p1"`, `""`, `"mp-1"`, `""`), ErrInvalidNotification},
		{"order_id a number", valid(`"p1"`, `12345`), ErrInvalidNotification},
		{"order_id with a newline", valid(`"p1"`, `"p1\nINFO forged"`), ErrInvalidNotification},
		{"order_id too long", valid(`"p1"`, `"`+strings.Repeat("9", 129)+`"`), ErrInvalidNotification},
		{"unknown state", valid(`"COMPLETED"`, `"REFUNDED"`), ErrInvalidNotification},
		{"unknown state of escaped runes", valid(`"COMPLETED"`, `"`+strings.Repeat(`\uDBFF\uDFFF`, 60)+`"`), ErrInvalidNotification},
		{"long unknown type", valid(`"Transaction"`, `"`+strings.Repeat(`\u0001`, 500)+`"`), ErrNotAPaymentNotification},
		{"state in another case", valid(`"COMPLETED"`, `"completed"`), ErrInvalidNotification},
		{"state missing", valid(`,"state":"COMPLETED"`, ``), ErrInvalidNotification},
		{"fractional amount", valid(`"100"`, `100.5`), ErrInvalidNotification},
		{"fractional amount string", valid(`"100"`, `"100.0"`), ErrInvalidNotification},
		{"negative amount", valid(`"100"`, `-100`), ErrInvalidNotification},
		{"exponent amount", valid(`"100"`, `1e2`), ErrInvalidNotification},
		{"empty amount string", valid(`"100"`, `""`), ErrInvalidNotification},
		{"amount with a sign", valid(`"100"`, `"+100"`), ErrInvalidNotification},
		{"amount of 12 digits", valid(`"100"`, `"100000000000"`), ErrInvalidNotification},
		{"amount an object", valid(`"100"`, `{"amount":100}`), ErrInvalidNotification},
		{"time not ISO", valid(`"2026-03-01T01:02:03Z"`, `"yesterday"`), ErrInvalidNotification},
		{"time as epoch", valid(`"2026-03-01T01:02:03Z"`, `1772326923`), ErrInvalidNotification},
		{"duplicate member", valid(`"state":"COMPLETED"`, `"state":"FAILED","state":"COMPLETED"`), ErrInvalidNotification},
		{"member in another case", valid(`"order_id"`, `"ORDER_ID"`), ErrInvalidNotification},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.ParseNotification([]byte(tc.body))
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if got != (contracts.PartnerNotification{}) {
				t.Fatalf("refusal returned a notification: %+v", got)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error message of %d bytes: %.300s", len(err.Error()), err)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "xxxxxxxxxx") {
				t.Fatalf("error message echoes the body: %q", err)
			}
		})
	}
}

// TestParseNotificationSentinelsAreDistinct: a caller acknowledges a non-payment callback
// (ErrNotAPaymentNotification) but refuses a malformed or foreign one.
func TestParseNotificationSentinelsAreDistinct(t *testing.T) {
	sentinels := []error{ErrNotAPaymentNotification, ErrInvalidNotification, ErrOtherMerchant}
	for i, a := range sentinels {
		for j, b := range sentinels {
			if i != j && errors.Is(a, b) {
				t.Fatalf("%v matches %v", a, b)
			}
		}
	}
}

func TestParseNotificationNeverTrustsAnotherMerchantsExample(t *testing.T) {
	a := webhookAdapter(t)
	body := strings.Replace(completedCallback, `"merchant-1"`, `"245541457393463296"`, 1)
	if _, err := a.ParseNotification([]byte(body)); !errors.Is(err, ErrOtherMerchant) {
		t.Fatalf("got %v", err)
	}
	if _, err := a.ParseNotification([]byte(`{"notification_type":"file.created","merchant_id":"merchant-2"}`)); !errors.Is(err, ErrNotAPaymentNotification) {
		t.Fatalf("file.created of any merchant: %v", err)
	}
}
