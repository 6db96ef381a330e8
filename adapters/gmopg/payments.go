package gmopg

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"payhub/contracts"
)

// EntryTran 3-D Secure settings (§4): EMV 3DS always (TdFlag 2). A card whose issuer has
// no 3DS2 is refused (Tds2Type 2: payhub refuses e-commerce card payments without a 3DS
// result) unless Config.AllowWithout3DS configures the exemption (Tds2Type 3: a plain
// authorisation where GMO's contract permits it).
const (
	tdFlagEMV3DS   = "2"
	tds2TypeRefuse = "2"
	tds2TypePlan   = "3"
)

// ExecTran settings: lump-sum payment (Method 1) and the browser's return to RetUrl as a
// GET with AccessID in the query (CallbackType 3): payhub's return endpoint reads query
// parameters, and a GET survives SameSite cookie rules a cross-site POST does not.
const (
	methodLumpSum   = "1"
	callbackTypeGET = "3"
)

// maxTokenLength is GMO's limit for Token (§1).
const maxTokenLength = 256

// CreatePayment takes a card payment (FlowRedirect only): EntryTran (JobCd AUTH for
// contracts.CaptureManual, CAPTURE otherwise; TdFlag 2, Tds2Type 2 or 3), then ExecTran with
// the token and RetUrl = req.ReturnURL. ACS=0 is authorised (Authorized or Succeeded, its
// CheckString verified); ACS=2 is OutcomePending with a redirect to GMO's 3DS page, which
// CompleteReturn finishes. A duplicate OrderID (E01040010) is recovered with SearchTrade.
// Once EntryTran answered, every result carries PartnerSecret.
func (a *Adapter) CreatePayment(ctx context.Context, req contracts.PaymentRequest) contracts.PaymentResult {
	orderID, job, res, ok := a.checkPaymentRequest(req)
	if !ok {
		return res
	}
	tenant, _ := tenantName(a.cfg.TdTenantName)
	params := append(a.shop(), param{"OrderID", orderID}, param{"JobCd", job},
		param{"Amount", strconv.FormatInt(req.Amount.Amount, 10)},
		param{"TdFlag", tdFlagEMV3DS}, param{"Tds2Type", a.tds2Type()}, param{"TdTenantName", tenant})
	r := a.callRetry(ctx, a.cfg.Timeouts.Entry, callEntryTran, params)
	sec := secret{JobCd: job}
	switch c := r.class(); {
	case r.ok():
		sec.AccessID, sec.AccessPass = r.resp.get("AccessID"), r.resp.get("AccessPass")
		if !accessPattern.MatchString(sec.AccessID) || !accessPattern.MatchString(sec.AccessPass) {
			return unknownPayment(r.code(), "EntryTran answered without a readable AccessID/AccessPass")
		}
	case c == classDuplicate:
		// The order exists (an earlier EntryTran landed): recover it.
		t, tr, found := a.searchTrade(ctx, orderID)
		if !found {
			return unknownPayment(r.code(), "EntryTran reported a duplicate OrderID but SearchTrade did not confirm it: "+a.describe(callSearchTrade, tr))
		}
		if t.Amount != req.Amount.Amount {
			return unknownPayment(r.code(), fmt.Sprintf("the existing GMO order holds %d JPY, not %s: reconcile by hand", t.Amount, req.Amount))
		}
		sec.AccessID, sec.AccessPass = t.AccessID, t.AccessPass
		if t.Status != statusEntry {
			// Executed before: answer its state.
			res := a.tradeResult(t, contracts.StatusProcessing, sec)
			if res.Outcome == contracts.OutcomePending {
				res.Outcome = contracts.OutcomeUnknown
				res.FailureMessage = "the order was executed before and waits for 3-D Secure; its redirect URL is lost"
			}
			return res
		}
	case c == classRetryable:
		return failedPayment(r.code(), contracts.FailurePartnerUnavailable, "GMO did not process the EntryTran (busy); nothing happened: "+a.describe(callEntryTran, r))
	case final(c):
		return failedPayment(r.code(), failureOf(c, r.resp.Errors), a.describe(callEntryTran, r))
	default:
		return unknownPayment(r.code(), a.describe(callEntryTran, r))
	}

	exec := []param{{"AccessID", sec.AccessID}, {"AccessPass", sec.AccessPass}, {"OrderID", orderID},
		{"Method", methodLumpSum}, {"Token", req.CardToken}, {"RetUrl", req.ReturnURL}, {"CallbackType", callbackTypeGET}}
	r = a.callRetry(ctx, a.cfg.Timeouts.Exec, callExecTran, exec)
	res = a.execResult(ctx, r, orderID, sec, req)
	res.PartnerSecret = sec.encode()
	return res
}

// checkPaymentRequest refuses, without calling GMO, requests the adapter cannot put on the
// wire: ExecTran's Token and RetUrl, EntryTran's OrderID and JobCd, and an Amount that is
// not yen. What card payments take (flow redirect only, the cap, a card token) is declared
// in Capabilities and enforced by the engine before the adapter is called; it is not
// checked again here.
func (a *Adapter) checkPaymentRequest(req contracts.PaymentRequest) (orderID, job string, res contracts.PaymentResult, ok bool) {
	refuse := func(code, msg string) (string, string, contracts.PaymentResult, bool) {
		return "", "", failedPayment("", code, msg), false
	}
	if req.CardToken == "" || len(req.CardToken) > maxTokenLength {
		return refuse(contracts.FailureCardTokenInvalid, "a card payment needs the card token from GMO's token script (missing or too long)")
	}
	if req.Amount.Currency != contracts.JPY {
		// GMO's Amount is yen and the protocol carries no currency (§1): another
		// currency's minor units would be charged as yen.
		return refuse(contracts.FailurePartnerRejected, fmt.Sprintf("GMO card payments take JPY only, not %q", req.Amount.Currency))
	}
	if u, err := url.Parse(req.ReturnURL); err != nil || !u.IsAbs() || u.Host == "" || len(req.ReturnURL) > 2048 {
		return refuse(contracts.FailurePartnerRejected, "a card payment needs an absolute return URL")
	}
	id, err := OrderID(req.PartnerRef)
	if err != nil {
		return refuse(contracts.FailurePartnerRejected, err.Error())
	}
	switch req.CaptureMethod {
	case contracts.CaptureManual:
		job = jobAuth
	case contracts.CaptureAutomatic, "":
		job = jobCapture
	default:
		return refuse(contracts.FailurePartnerRejected, "no JobCd for capture method "+string(req.CaptureMethod))
	}
	return id, job, contracts.PaymentResult{}, true
}

// execResult reads ExecTran's answer.
func (a *Adapter) execResult(ctx context.Context, r reply, orderID string, sec secret, req contracts.PaymentRequest) contracts.PaymentResult {
	switch c := r.class(); {
	case r.ok():
	case c == classSettled:
		return a.confirmBySearch(ctx, orderID, sec, r)
	case c == classRetryable:
		return failedPayment(r.code(), contracts.FailurePartnerUnavailable, "GMO did not process the ExecTran (busy); nothing was charged: "+a.describe(callExecTran, r))
	case final(c):
		return failedPayment(r.code(), failureOf(c, r.resp.Errors), a.describe(callExecTran, r))
	default:
		return unknownPayment(r.code(), a.describe(callExecTran, r))
	}
	switch acs := r.resp.get("ACS"); acs {
	case "0":
		return a.settledResult(ctx, r, orderID, sec)
	case "2":
		redirect := r.resp.get("RedirectUrl")
		u, err := url.Parse(redirect)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return unknownPayment("", "ExecTran asked for 3-D Secure without a usable RedirectUrl")
		}
		return contracts.PaymentResult{Outcome: contracts.OutcomePending,
			NextAction: &contracts.NextAction{Type: contracts.NextActionRedirect, RedirectURL: redirect}}
	default:
		return unknownPayment("", "ExecTran answered ACS="+truncate(acs, 4)+", which payhub does not use (3DS1 is retired)")
	}
}

// settledResult reads a successful ExecTran (ACS=0) or SecureTran2 answer: the CheckString
// must verify, then the outcome follows the EntryTran JobCd. Card details come from a
// SearchTrade afterwards (best effort).
func (a *Adapter) settledResult(ctx context.Context, r reply, orderID string, sec secret) contracts.PaymentResult {
	f := r.resp.Fields
	if f["OrderID"] != orderID || !a.checkString(f) {
		return unknownPayment("", "GMO's authorisation answer does not verify (CheckString or OrderID mismatch): confirm with SearchTrade")
	}
	res := contracts.PaymentResult{PartnerPaymentID: f["TranID"], PaidAt: parseGMOTime(f["TranDate"])}
	t, _, found := a.searchTrade(ctx, orderID)
	if found {
		res.Card = t.card()
	}
	job := sec.JobCd
	if job == "" && found {
		job = t.JobCd
	}
	switch job {
	case jobAuth, jobSAuth:
		res.Outcome = contracts.OutcomeAuthorized
	case jobCapture:
		res.Outcome = contracts.OutcomeSucceeded
		if found {
			res.AmountCaptured = t.Amount
		}
	default:
		if !found {
			return unknownPayment("", "GMO authorised the payment but its kind (AUTH or CAPTURE) could not be read")
		}
		res2 := a.tradeResult(t, contracts.StatusProcessing, sec)
		res2.PaidAt = res.PaidAt
		return res2
	}
	return res
}

// checkString verifies GMO's CheckString: lower-case hex MD5 of OrderID + Forward +
// Method + PayTimes + Approve + TranID + TranDate + ShopPass (§3), in constant time.
func (a *Adapter) checkString(f map[string]string) bool {
	sum := md5.Sum([]byte(f["OrderID"] + f["Forward"] + f["Method"] + f["PayTimes"] + f["Approve"] +
		f["TranID"] + f["TranDate"] + a.cfg.ShopPass))
	want := hex.EncodeToString(sum[:])
	got := strings.ToLower(f["CheckString"])
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// confirmBySearch answers a call GMO said was already settled (E11010001/E11010999) by
// the order's state.
func (a *Adapter) confirmBySearch(ctx context.Context, orderID string, sec secret, r reply) contracts.PaymentResult {
	t, tr, found := a.searchTrade(ctx, orderID)
	if !found {
		return unknownPayment(r.code(), "GMO says the payment was already settled but SearchTrade does not confirm it: "+a.describe(callSearchTrade, tr))
	}
	if t.Status == statusEntry {
		return unknownPayment(r.code(), "GMO says the payment was already settled but SearchTrade shows it unexecuted: confirm later")
	}
	res := a.tradeResult(t, contracts.StatusProcessing, sec)
	if res.PartnerCode == "" {
		res.PartnerCode = r.code()
	}
	return res
}

// GetPayment asks GMO where the payment stands (SearchTrade by OrderID):
// UNPROCESSED is OutcomePending while payhub waits for the customer (requires_action),
// otherwise OutcomeFailed (the ExecTran never landed: nothing was charged); AUTHENTICATED
// (3DS in progress) is OutcomePending; AUTH/SAUTH Authorized; CAPTURE/SALES Succeeded;
// VOID/RETURN/RETURNX Canceled. An unknown order (E01110002) is OutcomeNotFound.
func (a *Adapter) GetPayment(ctx context.Context, ref contracts.PaymentRef) contracts.PaymentResult {
	orderID, err := OrderID(ref.PartnerRef)
	if err != nil {
		return unknownPayment("", err.Error())
	}
	t, r, found := a.searchTrade(ctx, orderID)
	if !found {
		if r.err == nil && hasInfo(r.resp.Errors, infoNoSuchTrade) {
			return contracts.PaymentResult{Outcome: contracts.OutcomeNotFound, PartnerCode: r.code(),
				FailureMessage: "GMO has no order " + orderID}
		}
		return unknownPayment(r.code(), a.describe(callSearchTrade, r))
	}
	sec, _ := parseSecret(ref.PartnerSecret)
	return a.tradeResult(t, ref.Status, sec)
}

// tradeResult maps a SearchTrade answer. status is payhub's current status of the payment;
// sec is what payhub holds (its captured amount survives).
func (a *Adapter) tradeResult(t trade, status contracts.Status, sec secret) contracts.PaymentResult {
	s := secret{AccessID: t.AccessID, AccessPass: t.AccessPass, JobCd: sec.JobCd, Captured: sec.Captured}
	if s.JobCd == "" {
		switch t.JobCd {
		case jobAuth, jobCapture, jobSAuth:
			s.JobCd = t.JobCd
		}
	}
	res := contracts.PaymentResult{PartnerPaymentID: t.TranID, PartnerCode: t.Status, PartnerSecret: s.encode()}
	switch t.Status {
	case statusEntry:
		if status == contracts.StatusRequiresAction {
			res.Outcome = contracts.OutcomePending
			return res
		}
		res.Outcome, res.FailureCode = contracts.OutcomeFailed, contracts.FailurePartnerUnavailable
		res.FailureMessage = "GMO never executed the payment (UNPROCESSED): nothing was charged"
	case statusTds:
		res.Outcome = contracts.OutcomePending
	case jobAuth, jobSAuth:
		res.Outcome = contracts.OutcomeAuthorized
		res.Card = t.card()
	case jobCapture, jobSales:
		res.Outcome = contracts.OutcomeSucceeded
		res.Card = t.card()
		switch {
		case s.Captured > 0:
			res.AmountCaptured = s.Captured
		case t.Status == jobSales:
			// First sight of the capture (its answer was lost): before any refund GMO's
			// amount is the captured amount; keep it for later refunds.
			res.AmountCaptured = t.Amount
			s.Captured = t.Amount
			res.PartnerSecret = s.encode()
		default:
			res.AmountCaptured = t.Amount
		}
	case jobVoid, jobReturn, jobReturnX:
		res.Outcome = contracts.OutcomeCanceled
	default:
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "GMO reports status " + truncate(t.Status, 16) + ", which payhub does not use"
	}
	return res
}

// CompleteReturn finishes a 3-D Secure payment after the customer's browser came back to
// RetUrl with AccessID. The AccessID must equal the payment's (constant-time compare);
// then SecureTran2 authorises. A return that does not belong to the payment (wrong or no
// AccessID) or one for a payment payhub no longer waits for completes nothing: it answers
// GetPayment's reading of the order, so nothing changes that GMO does not say. E21… is
// OutcomeFailed authentication_failed; "already settled" (E11010001) answers SearchTrade.
func (a *Adapter) CompleteReturn(ctx context.Context, ref contracts.PaymentRef, query url.Values) contracts.PaymentResult {
	orderID, err := OrderID(ref.PartnerRef)
	if err != nil {
		return unknownPayment("", err.Error())
	}
	returned := query.Get("AccessID")
	waiting := ref.Status == contracts.StatusRequiresAction || ref.Status == contracts.StatusProcessing || ref.Status == contracts.StatusUnknown
	if returned == "" || !waiting {
		return a.GetPayment(ctx, ref)
	}
	sec, ok := parseSecret(ref.PartnerSecret)
	if !ok {
		t, r, found := a.searchTrade(ctx, orderID)
		if !found {
			return unknownPayment(r.code(), "the payment's AccessID could not be recovered: "+a.describe(callSearchTrade, r))
		}
		sec = secret{AccessID: t.AccessID, AccessPass: t.AccessPass, JobCd: t.JobCd}
	}
	if !sameAccessID(returned, sec.AccessID) {
		res := a.GetPayment(ctx, ref)
		msg := "the return does not belong to this payment (AccessID mismatch); nothing was completed"
		if res.FailureMessage != "" {
			msg += "; " + res.FailureMessage
		}
		res.FailureMessage = msg
		return res
	}
	r := a.call(ctx, a.cfg.Timeouts.Exec, callSecureTran2, []param{{"AccessID", sec.AccessID}, {"AccessPass", sec.AccessPass}})
	var res contracts.PaymentResult
	switch c := r.class(); {
	case r.ok():
		res = a.settledResult(ctx, r, orderID, sec)
	case c == classSettled:
		res = a.confirmBySearch(ctx, orderID, sec, r)
	case final(c):
		res = failedPayment(r.code(), failureOf(c, r.resp.Errors), a.describe(callSecureTran2, r))
	default:
		res = unknownPayment(r.code(), a.describe(callSecureTran2, r))
	}
	if res.PartnerSecret == "" {
		res.PartnerSecret = sec.encode()
	}
	return res
}

// trade is a SearchTrade answer.
type trade struct {
	Status, JobCd          string
	AccessID, AccessPass   string
	Amount                 int64
	ProcessDate            string
	TranID, CardNo, Expire string
}

// card is what payhub may keep about the card: last four digits of the masked number and
// the expiry, never more.
func (t trade) card() *contracts.CardDetails {
	var c contracts.CardDetails
	if n := len(t.CardNo); n >= 4 && isDigits(t.CardNo[n-4:]) {
		c.Last4 = t.CardNo[n-4:]
	}
	if len(t.Expire) == 4 && isDigits(t.Expire) {
		c.Expiry = t.Expire
	}
	if c == (contracts.CardDetails{}) {
		return nil
	}
	return &c
}

// searchTrade looks the order up. found is false when GMO answered an error (the reply
// says which) or the answer is unreadable.
func (a *Adapter) searchTrade(ctx context.Context, orderID string) (trade, reply, bool) {
	r := a.callRetry(ctx, a.cfg.Timeouts.Read, callSearchTrade, append(a.shop(), param{"OrderID", orderID}))
	if !r.ok() {
		return trade{}, r, false
	}
	f := r.resp.Fields
	amount, err := strconv.ParseInt(f["Amount"], 10, 64)
	if err != nil || amount < 0 || f["Status"] == "" || (f["OrderID"] != "" && f["OrderID"] != orderID) ||
		!accessPattern.MatchString(f["AccessID"]) || !accessPattern.MatchString(f["AccessPass"]) {
		r.err = fmt.Errorf("SearchTrade answer is incomplete or names another order")
		return trade{}, r, false
	}
	return trade{Status: f["Status"], JobCd: f["JobCd"], AccessID: f["AccessID"], AccessPass: f["AccessPass"],
		Amount: amount, ProcessDate: f["ProcessDate"], TranID: f["TranID"], CardNo: f["CardNo"], Expire: f["Expire"]}, r, true
}

func failedPayment(partnerCode, failure, msg string) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, PartnerCode: partnerCode, FailureCode: failure, FailureMessage: msg}
}

func unknownPayment(partnerCode, msg string) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: partnerCode, FailureMessage: msg}
}

// tds2Type is EntryTran's Tds2Type: refuse cards without 3DS2 unless exempted.
func (a *Adapter) tds2Type() string {
	if a.cfg.AllowWithout3DS {
		return tds2TypePlan
	}
	return tds2TypeRefuse
}
