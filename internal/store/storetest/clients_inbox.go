package storetest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"payhub/contracts"
)

// RunClientsAndInbox is the conformance suite of the store-client registry (keys, their
// rotation and revocation, return origins) and of the inbox's bound and retention. open
// must return a fresh, empty, migrated store for each call.
func RunClientsAndInbox(t *testing.T, open func(t *testing.T) contracts.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s contracts.Store)
	}{
		{"ClientReturnOrigins", testClientReturnOrigins},
		{"ClientSourceAllowlist", testClientSourceAllowlist},
		{"ClientKeyRotationAndRevocation", testClientKeyRotationAndRevocation},
		{"ListStoreClients", testListStoreClients},
		{"WaitingCallbacks", testWaitingCallbacks},
		{"CallbackRetention", testCallbackRetention},
		{"WebhookAttemptRetention", testWebhookAttemptRetention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testClientReturnOrigins(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	c := contracts.StoreClient{ID: "cli_web", Name: "web shop", Stores: []string{"store-a"}, CreatedAt: base,
		ReturnOrigins: []string{"https://shop.example", "https://shop.example:8443"}}
	if err := s.CreateStoreClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetStoreClient(ctx, "cli_web")
	if err != nil || !slices.Equal(got.ReturnOrigins, c.ReturnOrigins) || !slices.Equal(got.Stores, c.Stores) || got.Name != c.Name {
		t.Fatalf("GetStoreClient = %+v, %v", got, err)
	}
	if err := s.SetClientReturnOrigins(ctx, "cli_web", []string{"https://b.example", "https://a.example"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetStoreClient(ctx, "cli_web"); !slices.Equal(got.ReturnOrigins, []string{"https://b.example", "https://a.example"}) {
		t.Fatalf("after SetClientReturnOrigins: %q", got.ReturnOrigins)
	}
	if err := s.SetClientReturnOrigins(ctx, "cli_web", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetStoreClient(ctx, "cli_web"); len(got.ReturnOrigins) != 0 {
		t.Fatalf("after clearing: %q", got.ReturnOrigins)
	}
	if err := s.SetClientReturnOrigins(ctx, "cli_nobody", []string{"https://a.example"}); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("SetClientReturnOrigins(unknown client) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetStoreClient(ctx, "cli_nobody"); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("GetStoreClient(unknown) = %v, want ErrNotFound", err)
	}
	// A repeated origin is refused, and the refused client leaves nothing behind.
	dup := contracts.StoreClient{ID: "cli_dup", Name: "dup", Stores: []string{"store-b"}, CreatedAt: base,
		ReturnOrigins: []string{"https://a.example", "https://a.example"}}
	if err := s.CreateStoreClient(ctx, dup); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("CreateStoreClient(repeated origin) = %v, want ErrConflict", err)
	}
	if _, err := s.GetStoreClient(ctx, "cli_dup"); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("a refused client was kept: %v", err)
	}
}

// testClientSourceAllowlist: the networks a client's requests may come from
// (docs/security.md §6), IPv4 and IPv6, masked, in registration order, found with the key.
func testClientSourceAllowlist(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	pem := []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n")
	nets := []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8:1::/48"),
		netip.MustParsePrefix("198.51.100.77/24")} // the last one is stored masked
	want := []netip.Prefix{nets[0], nets[1], netip.MustParsePrefix("198.51.100.0/24")}
	if err := s.CreateStoreClient(ctx, contracts.StoreClient{ID: "cli_net", Name: "net", Stores: []string{"store-a"}, CreatedAt: base,
		Keys:            []contracts.ClientKey{{KID: "kid-net", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pem, CreatedAt: base}},
		SourceAllowlist: nets}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetStoreClient(ctx, "cli_net"); err != nil || !slices.Equal(got.SourceAllowlist, want) {
		t.Fatalf("GetStoreClient allowlist = %v, %v; want %v", got.SourceAllowlist, err, want)
	}
	if _, c, err := s.LookupClientKey(ctx, "kid-net"); err != nil || !slices.Equal(c.SourceAllowlist, want) {
		t.Fatalf("LookupClientKey allowlist = %v, %v; want %v", c.SourceAllowlist, err, want)
	}
	if err := s.SetClientSourceAllowlist(ctx, "cli_net", []netip.Prefix{netip.MustParsePrefix("::1/128")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetStoreClient(ctx, "cli_net"); !slices.Equal(got.SourceAllowlist, []netip.Prefix{netip.MustParsePrefix("::1/128")}) {
		t.Fatalf("after SetClientSourceAllowlist: %v", got.SourceAllowlist)
	}
	if err := s.SetClientSourceAllowlist(ctx, "cli_net", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetStoreClient(ctx, "cli_net"); len(got.SourceAllowlist) != 0 {
		t.Fatalf("after clearing: %v", got.SourceAllowlist)
	}
	if err := s.SetClientSourceAllowlist(ctx, "cli_nobody", nets); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("SetClientSourceAllowlist(unknown client) = %v, want ErrNotFound", err)
	}
	dup := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("192.0.2.9/24")}
	if err := s.SetClientSourceAllowlist(ctx, "cli_net", dup); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("SetClientSourceAllowlist(a network twice) = %v, want ErrConflict", err)
	}
	if got, _ := s.GetStoreClient(ctx, "cli_net"); len(got.SourceAllowlist) != 0 {
		t.Errorf("a refused allowlist was kept in part: %v", got.SourceAllowlist)
	}
	if err := s.SetClientSourceAllowlist(ctx, "cli_net", []netip.Prefix{{}}); err == nil {
		t.Error("an invalid network was accepted")
	}
}

func testClientKeyRotationAndRevocation(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	pem := []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n")
	if err := s.CreateStoreClient(ctx, contracts.StoreClient{ID: "cli_pos", Name: "pos", Stores: []string{"store-a"}, CreatedAt: base,
		Keys: []contracts.ClientKey{{KID: "kid-1", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: pem, CreatedAt: base}}}); err != nil {
		t.Fatal(err)
	}
	k2 := contracts.ClientKey{KID: "kid-2", ClientID: "cli_pos", Algorithm: contracts.AlgES256, PublicKeyPEM: pem, CreatedAt: at(time.Minute)}
	if err := s.AddClientKey(ctx, k2); err != nil {
		t.Fatalf("AddClientKey: %v", err)
	}
	if err := s.AddClientKey(ctx, k2); !errors.Is(err, contracts.ErrConflict) {
		t.Errorf("AddClientKey(taken kid) = %v, want ErrConflict", err)
	}
	stray := k2
	stray.KID, stray.ClientID = "kid-3", "cli_nobody"
	if err := s.AddClientKey(ctx, stray); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("AddClientKey(unknown client) = %v, want ErrNotFound", err)
	}
	for _, kid := range []string{"kid-1", "kid-2"} {
		if k, c, err := s.LookupClientKey(ctx, kid); err != nil || k.KID != kid || c.ID != "cli_pos" || len(c.Keys) != 2 {
			t.Fatalf("LookupClientKey(%s) = %+v, %+v, %v", kid, k, c, err)
		}
	}
	k, err := s.RevokeClientKey(ctx, "kid-1", at(time.Hour))
	if err != nil || k.KID != "kid-1" || k.ClientID != "cli_pos" || k.RevokedAt == nil || !k.RevokedAt.Equal(stored(at(time.Hour))) {
		t.Fatalf("RevokeClientKey = %+v, %v", k, err)
	}
	if _, _, err := s.LookupClientKey(ctx, "kid-1"); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("a revoked key is still found: %v", err)
	}
	if _, _, err := s.LookupClientKey(ctx, "kid-2"); err != nil {
		t.Errorf("the other key went with it: %v", err)
	}
	again, err := s.RevokeClientKey(ctx, "kid-1", at(2*time.Hour))
	if err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(stored(at(time.Hour))) {
		t.Errorf("revoking again = %+v, %v; want the first revocation kept", again, err)
	}
	if _, err := s.RevokeClientKey(ctx, "kid-unknown", at(time.Hour)); !errors.Is(err, contracts.ErrNotFound) {
		t.Errorf("RevokeClientKey(unknown) = %v, want ErrNotFound", err)
	}
}

func testListStoreClients(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	if cs, err := s.ListStoreClients(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("ListStoreClients on an empty store = %+v, %v", cs, err)
	}
	for _, id := range []string{"cli_b", "cli_a"} {
		if err := s.CreateStoreClient(ctx, contracts.StoreClient{ID: id, Name: id, Stores: []string{"store-" + id}, CreatedAt: base,
			ReturnOrigins: []string{"https://" + id + ".example"},
			Keys:          []contracts.ClientKey{{KID: id + "-k", Algorithm: contracts.AlgEdDSA, PublicKeyPEM: []byte("pem"), CreatedAt: base}}}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := s.ListStoreClients(ctx)
	if err != nil || len(cs) != 2 || cs[0].ID != "cli_a" || cs[1].ID != "cli_b" || len(cs[0].Keys) != 1 ||
		!slices.Equal(cs[0].ReturnOrigins, []string{"https://cli_a.example"}) || !slices.Equal(cs[1].Stores, []string{"store-cli_b"}) {
		t.Fatalf("ListStoreClients = %+v, %v", cs, err)
	}
}

func recordCallback(t *testing.T, s contracts.Store, partner contracts.Method, eventID string, received time.Time, status contracts.CallbackStatus) contracts.PartnerCallback {
	t.Helper()
	cb := contracts.PartnerCallback{ID: newID("pcb_"), Partner: partner, EventID: eventID, SourceIP: "127.0.0.1", Body: []byte(`{}`),
		ReceivedAt: received, Status: status}
	if status != contracts.CallbackReceived {
		cb.ProcessedAt = &received
	}
	if ok, err := s.RecordCallback(context.Background(), cb); err != nil || !ok {
		t.Fatalf("RecordCallback = %v, %v", ok, err)
	}
	return cb
}

// The inbox's bound counts the callbacks still waiting, per partner, no further than asked.
func testWaitingCallbacks(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	for i := range 4 {
		recordCallback(t, s, contracts.MethodPayPay, newID("w"), at(time.Duration(i)*time.Second), contracts.CallbackReceived)
	}
	recordCallback(t, s, contracts.MethodPayPay, newID("done"), base, contracts.CallbackProcessed)
	recordCallback(t, s, contracts.MethodPayPay, newID("bad"), base, contracts.CallbackRejected)
	recordCallback(t, s, contracts.MethodLinePay, newID("lp"), base, contracts.CallbackReceived)
	for _, tc := range []struct {
		partner contracts.Method
		limit   int
		want    int
	}{{contracts.MethodPayPay, 10, 4}, {contracts.MethodPayPay, 3, 3}, {contracts.MethodLinePay, 10, 1}, {contracts.MethodCard, 10, 0}} {
		if n, err := s.CountWaitingCallbacks(ctx, tc.partner, tc.limit); err != nil || n != tc.want {
			t.Errorf("CountWaitingCallbacks(%s, %d) = %d, %v; want %d", tc.partner, tc.limit, n, err, tc.want)
		}
	}
	cbs, _ := s.ClaimCallbacks(ctx, at(time.Minute), at(2*time.Minute), 1)
	if err := s.FinishCallback(ctx, cbs[0].ID, contracts.CallbackIgnored, "no such payment", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountWaitingCallbacks(ctx, contracts.MethodPayPay, 10); n != 3 {
		t.Errorf("after one was processed: %d waiting, want 3", n)
	}
}

// Retention deletes callbacks that left the inbox before the cutoff, oldest first, a batch
// at a time; callbacks still waiting stay whatever their age.
func testCallbackRetention(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	old := []contracts.PartnerCallback{
		recordCallback(t, s, contracts.MethodPayPay, "old-1", at(-40*24*time.Hour), contracts.CallbackProcessed),
		recordCallback(t, s, contracts.MethodPayPay, "old-2", at(-35*24*time.Hour), contracts.CallbackIgnored),
		recordCallback(t, s, contracts.MethodPayPay, "old-3", at(-31*24*time.Hour), contracts.CallbackRejected),
	}
	waiting := recordCallback(t, s, contracts.MethodPayPay, "old-waiting", at(-60*24*time.Hour), contracts.CallbackReceived)
	recent := recordCallback(t, s, contracts.MethodPayPay, "recent", at(-29*24*time.Hour), contracts.CallbackProcessed)
	cutoff := at(-30 * 24 * time.Hour)
	if n, err := s.DeleteCallbacksBefore(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("DeleteCallbacksBefore(batch 2) = %d, %v", n, err)
	}
	list, _ := s.ListCallbacks(ctx, contracts.MethodPayPay)
	ids := make([]string, len(list))
	for i, cb := range list {
		ids[i] = cb.ID
	}
	if !slices.Equal(ids, []string{waiting.ID, old[2].ID, recent.ID}) {
		t.Fatalf("after the first batch: %v; want the oldest two gone", ids)
	}
	if n, err := s.DeleteCallbacksBefore(ctx, cutoff, 2); err != nil || n != 1 {
		t.Fatalf("DeleteCallbacksBefore(rest) = %d, %v", n, err)
	}
	if n, _ := s.DeleteCallbacksBefore(ctx, cutoff, 2); n != 0 {
		t.Fatalf("deleted %d more", n)
	}
	list, _ = s.ListCallbacks(ctx, contracts.MethodPayPay)
	if len(list) != 2 || list[0].ID != waiting.ID || list[1].ID != recent.ID {
		t.Fatalf("kept %+v; want the waiting and the recent one", list)
	}
	// A retention pass does not break the inbox's dedupe of what it keeps.
	again := recent
	again.ID = newID("pcb_")
	if ok, _ := s.RecordCallback(ctx, again); ok {
		t.Error("a kept callback's replay was recorded again")
	}
}

// Retention deletes delivery attempts made before the cutoff; the deliveries stay.
func testWebhookAttemptRetention(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	ep := newEndpoint("store-a")
	createEndpoint(t, s, ep, "whsec_x")
	p := newPayment("store-a")
	insertPayment(t, s, p)
	events := []contracts.Event{appendEvent(t, s, &p, contracts.EventPaymentSucceeded), appendEvent(t, s, &p, contracts.EventPaymentSucceeded)}
	sentAt := []time.Time{at(-100 * 24 * time.Hour), at(-10 * 24 * time.Hour)}
	jobs, err := s.LeaseDeliveries(ctx, "d1", at(time.Second), at(time.Minute), 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("LeaseDeliveries = %d, %v", len(jobs), err)
	}
	for i, e := range events {
		if err := s.FinishDelivery(ctx, "d1", contracts.DeliveryOutcome{Attempt: contracts.DeliveryAttempt{ID: newID("wda_"), EventID: e.ID,
			EndpointID: ep.ID, AttemptedAt: sentAt[i], HTTPStatus: 200, Latency: time.Millisecond}, Status: contracts.DeliverySucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteWebhookAttemptsBefore(ctx, at(-90*24*time.Hour), 1000); err != nil || n != 1 {
		t.Fatalf("DeleteWebhookAttemptsBefore = %d, %v", n, err)
	}
	for i, e := range events {
		as, err := s.ListDeliveryAttempts(ctx, "store-a", e.ID)
		if err != nil || len(as) != i {
			t.Errorf("attempts of event %d = %d, %v; want %d", i, len(as), err, i)
		}
		if ds, _ := s.ListDeliveries(ctx, e.ID); len(ds) != 1 || ds[0].Status != contracts.DeliverySucceeded {
			t.Errorf("delivery of event %d: %+v", i, ds)
		}
	}
}
