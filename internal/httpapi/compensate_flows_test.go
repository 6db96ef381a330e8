package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	nanacoadapter "payhub/adapters/nanaco"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/auth"
	"payhub/internal/compensate"
	nanacosim "payhub/mocks/nanaco"
	simcore "payhub/mocks/sim"
)

// TestCompensationPaysEachClaimOnce: a claims list with a duplicate line across card
// (GMO-PG), PayPay and nanaco originals and a nanaco top-up pays each claim once (the card
// voided before billing, PayPay and nanaco refunded through the hub, the top-up as a bank
// row); a claim over the refundable amount and one of an unknown original are rejected; the
// same list run again pays nothing more; the report balances and the ledger check passes.
func TestCompensationPaysEachClaimOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st contracts.Store) {
		now := time.Now().In(contracts.JST)
		clk := simcore.NewManualClock(time.Date(now.Year(), now.Month(), now.Day(), 10, 0, 0, 0, contracts.JST))
		ncs := nanacosim.New(nanacosim.Config{MerchantID: testNanacoMerchant, Secret: testNanacoSecret, Faults: simcore.NewFaults(1), Clock: clk})
		ncsSrv := httptest.NewServer(ncs)
		t.Cleanup(ncsSrv.Close)
		e := newEnvWith(t, st, clk, func(c *app.Config) {
			c.Nanaco = &nanacoadapter.Config{BaseURL: ncsSrv.URL, MerchantID: testNanacoMerchant, Secret: testNanacoSecret,
				Timeouts: nanacoadapter.UniformTimeouts(5 * time.Second)}
		})
		tok := func() string { return e.token(e.a, func(r *auth.TokenRequest) { r.IssuedAt = clk.Now() }) }
		created := func(path string, body map[string]any) map[string]any {
			t.Helper()
			r := e.do(http.MethodPost, path, tok(), newKey(), body)
			expectStatus(t, r, http.StatusCreated, "")
			return r.json(t)
		}
		pp := created("/v1/payments", barcodePayment(1000, barcodeOK))
		nc := created("/v1/payments", cardPresent(1000, nanacosim.FixtureActive))
		tu := created("/v1/nanaco/top-ups", topUpBody(1000, "cash", nanacosim.FixtureActive))
		card := cardPaid(t, e, tok, 8800)
		for _, x := range []map[string]any{pp, nc, tu} {
			if x["status"] != "succeeded" {
				t.Fatalf("original: %v", x)
			}
		}
		ppID, ncID, tuID := pp["id"].(string), nc["id"].(string), tu["id"].(string)
		csv := "claim_id,victim_id,original_id,amount,bank_code,branch_code,account_type,account_number,holder_kana\n" +
			"case-1,u1," + ppID + ",1000,,,,,\n" +
			"case-2,u2," + card + ",8800,,,,,\n" +
			"case-1,u1," + ppID + ",1000,,,,,\n" + // the same claim again: paid once
			"case-3,u3," + ncID + ",400,,,,,\n" +
			"case-4,u4," + tuID + ",500,0005,123,ordinary,7654321,ﾔﾏﾀﾞ ﾀﾛｳ\n" +
			"case-5,u5," + ncID + ",700,,,,,\n" + // 600 remains refundable
			"case-6,u6,pay_01K00000000000000000000000,100,,,,,\n" +
			"case-7,u7," + ppID + ",12x,,,,,\n"
		var bankRows []string
		eng := compensate.New(compensate.Config{Store: st, Hub: e.app.Hub, Clock: clk,
			BankRow: func(c compensate.Claim) error { bankRows = append(bankRows, c.ClaimID); return nil }})
		run := func() compensate.Report {
			t.Helper()
			rep, err := eng.Run(context.Background(), strings.NewReader(csv), compensate.FormatCSV)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			rep.Write(&out)
			if !rep.Balanced() {
				t.Fatalf("unbalanced:\n%s", out.String())
			}
			return rep
		}
		rep := run()
		if rep.Refunded.Yen != 1000+8800+400 || rep.Bank.Yen != 500 || rep.Rejected.Claims != 3 || rep.Open.Claims != 0 || rep.Duplicates != 1 {
			var out bytes.Buffer
			rep.Write(&out)
			t.Fatalf("first run:\n%s\n%+v", out.String(), rep.Outcomes)
		}
		if rep.Rejections[string(compensate.ReasonOverRefundable)] == nil || rep.Rejections[string(compensate.ReasonUnknownOriginal)] == nil {
			t.Fatalf("rejections: %v", rep.Rejections)
		}
		counts := func() string {
			var s []string
			for _, id := range []string{ppID, ncID, card} {
				rs, err := st.ListRefunds(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				p, _ := st.GetPayment(context.Background(), "", id)
				s = append(s, fmt.Sprintf("%s:%d refunds:%s", id, len(rs), p.Status))
			}
			return strings.Join(s, " ")
		}
		first := counts()
		if !strings.Contains(first, card+":0 refunds:canceled") || !strings.Contains(first, ppID+":1 refunds") || !strings.Contains(first, ncID+":1 refunds") {
			t.Fatalf("after the first run: %s", first)
		}
		if o, ok := e.gmopg.Order(orderOf(t, e, card)); !ok || o.Status != "VOID" && o.Status != "CANCEL" {
			t.Errorf("GMO order of the card payment: %+v", o)
		}
		again := run()
		if got := counts(); got != first {
			t.Fatalf("the second run paid more: %s, was %s", got, first)
		}
		if again.Already.Claims != 6 || again.Refunded.Yen != rep.Refunded.Yen || again.Bank.Yen != 500 {
			t.Fatalf("second run: %+v", again)
		}
		if len(bankRows) != 1 || bankRows[0] != "case-4" {
			t.Fatalf("bank rows: %v", bankRows)
		}
		checkLedger(t, st)
		bal := ledgerBalances(t, st)
		if bal["compensation_expense JPY"] != 500 || bal["bank_refund_payable JPY"] != 500 {
			t.Fatalf("ledger: %v", bal)
		}
	})
}

// cardPaid pays amount by card through 3-D Secure and returns the succeeded payment's id.
func cardPaid(t *testing.T, e *testEnv, tok func() string, amount int) string {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r := e.do(http.MethodPost, "/v1/payments", tok(), newKey(), map[string]any{"amount": amount, "currency": "JPY", "method": "card",
		"flow": "redirect", "card_token": e.gmopg.IssueToken("3ds_challenge"), "return_url": "https://shop.example/thanks", "order_id": "comp-card"})
	expectStatus(t, r, http.StatusCreated, "")
	p := r.json(t)
	na, _ := p["next_action"].(map[string]any)
	if na == nil {
		t.Fatalf("card payment: %s", r.body)
	}
	u, _ := url.Parse(na["redirect_url"].(string))
	transID := u.Query().Get("transId")
	if _, err := e.gmopg.ApproveChallenge(transID); err != nil {
		t.Fatal(err)
	}
	ch, ok := e.gmopg.Challenge(transID)
	if !ok {
		t.Fatal("no 3-D Secure challenge")
	}
	form := url.Values{}
	for k, v := range ch.Form {
		form.Set(k, v)
	}
	var resp *http.Response
	var err error
	if ch.Method == http.MethodGet {
		resp, err = noFollow.Get(ch.RetURL + "?" + form.Encode())
	} else {
		resp, err = noFollow.PostForm(ch.RetURL, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := p["id"].(string)
	if got := e.do(http.MethodGet, "/v1/payments/"+id, tok(), "", nil).json(t); got["status"] != "succeeded" {
		t.Fatalf("card payment after 3-D Secure: %v", got)
	}
	return id
}
