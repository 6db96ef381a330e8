package linepay

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"payhub/contracts"
)

// QRLifetime is how long a customer has to approve an Online v3 request before LINE
// expires it (check 0121, §4.3).
const QRLifetime = 20 * time.Minute

// Offline v4 and Online v3 paths (§4, §5).
const (
	pathOfflinePay     = "/v4/payments/oneTimeKeys/pay"
	pathOfflineDetails = "/v4/payments"
	pathOnlineRequest  = "/v3/payments/request"
	pathOnlineDetails  = "/v3/payments"
)

// offlineOrderPath is /v4/payments/orders/{orderId}/{op}; orderIds are [A-Za-z0-9_-], so
// escaping changes nothing and the signed path is the path sent.
func offlineOrderPath(orderID, op string) string {
	return "/v4/payments/orders/" + url.PathEscape(orderID) + "/" + op
}

// product is one line of a package (§4.1).
type product struct {
	Name     string `json:"name"`
	Quantity int64  `json:"quantity"`
	Price    int64  `json:"price"`
}

// paymentPackage is one entry of packages[] (§4.1); amount = Σ quantity × price.
type paymentPackage struct {
	ID       string    `json:"id"`
	Amount   int64     `json:"amount"`
	Products []product `json:"products"`
}

// paymentOptions is options.payment; Capture false only authorizes.
type paymentOptions struct {
	Capture bool `json:"capture"`
}

// extraOptions is options.extra (singular): the store branch.
type extraOptions struct {
	BranchID string `json:"branchId,omitempty"`
}

// requestOptions is options of a request or pay.
type requestOptions struct {
	Payment paymentOptions `json:"payment"`
	Extra   *extraOptions  `json:"extra,omitempty"`
}

// payBody is the Offline v4 pay (§5).
type payBody struct {
	Amount     int64            `json:"amount"`
	Currency   string           `json:"currency"`
	OrderID    string           `json:"orderId"`
	OneTimeKey string           `json:"oneTimeKey"`
	Packages   []paymentPackage `json:"packages"`
	Options    requestOptions   `json:"options"`
}

// redirectURLs is the Online v3 request's redirectUrls (§4.1).
type redirectURLs struct {
	ConfirmURL     string `json:"confirmUrl"`
	CancelURL      string `json:"cancelUrl"`
	ConfirmURLType string `json:"confirmUrlType"`
}

// requestBody is the Online v3 request (§4.1).
type requestBody struct {
	Amount       int64            `json:"amount"`
	Currency     string           `json:"currency"`
	OrderID      string           `json:"orderId"`
	Packages     []paymentPackage `json:"packages"`
	RedirectURLs redirectURLs     `json:"redirectUrls"`
	Options      requestOptions   `json:"options"`
}

// amountBody is the body of confirm and capture: {amount, currency}.
type amountBody struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// CreatePayment charges a scanned LINE Pay code (FlowBarcode: Offline v4 pay) or creates an
// Online v3 payment request whose paymentUrl the till shows as a QR code (FlowQR:
// OutcomePending). With contracts.CaptureManual it only authorizes (options.payment.capture
// false). Requests the adapter cannot put on the wire (an amount with cents, a malformed
// code, orderId or return URL) are refused without a call.
func (a *Adapter) CreatePayment(ctx context.Context, req contracts.PaymentRequest) contracts.PaymentResult {
	major, res, ok := a.checkPaymentRequest(req)
	if !ok {
		return res
	}
	name := truncate(req.Description, 100)
	if name == "" {
		name = a.cfg.ProductName
	}
	opts := requestOptions{Payment: paymentOptions{Capture: req.CaptureMethod != contracts.CaptureManual}}
	if req.StoreID != "" {
		opts.Extra = &extraOptions{BranchID: truncate(req.StoreID, 100)}
	}
	// One package with one line for the basket total (§5: payhub does not itemise).
	packages := []paymentPackage{{ID: "1", Amount: major, Products: []product{{Name: name, Quantity: 1, Price: major}}}}
	switch req.Flow {
	case contracts.FlowQR:
		return a.createRequest(ctx, req, requestBody{
			Amount: major, Currency: string(req.Amount.Currency), OrderID: req.PartnerRef, Packages: packages,
			RedirectURLs: redirectURLs{ConfirmURL: a.cfg.ConfirmURL, CancelURL: a.cfg.CancelURL, ConfirmURLType: "NONE"},
			Options:      opts,
		})
	case contracts.FlowRedirect:
		// The customer's browser goes to LINE's payment page and comes back to payhub's
		// return URL (confirmUrlType CLIENT), where CompleteReturn confirms.
		cancelURL := req.CancelURL
		if cancelURL == "" {
			cancelURL = req.ReturnURL
		}
		return a.createRequest(ctx, req, requestBody{
			Amount: major, Currency: string(req.Amount.Currency), OrderID: req.PartnerRef, Packages: packages,
			RedirectURLs: redirectURLs{ConfirmURL: req.ReturnURL, CancelURL: cancelURL, ConfirmURLType: "CLIENT"},
			Options:      opts,
		})
	}
	r := a.call(ctx, a.cfg.Timeouts.Pay, http.MethodPost, pathOfflinePay, "", payBody{
		Amount: major, Currency: string(req.Amount.Currency), OrderID: req.PartnerRef, OneTimeKey: req.Barcode,
		Packages: packages, Options: opts,
	}, deviceOf(req.StoreID, req.TerminalID))
	return a.payResult(r, req)
}

// checkPaymentRequest refuses, without calling LINE, requests the adapter cannot put on the
// wire. It returns the amount in whole major units. What the channel takes (its currency,
// the cap, whole units, the flows) is declared in Capabilities and enforced by the engine
// before the adapter is called; majorUnits still refuses a fraction because LINE's amount
// field cannot carry one.
func (a *Adapter) checkPaymentRequest(req contracts.PaymentRequest) (int64, contracts.PaymentResult, bool) {
	refuse := func(code, msg string) (int64, contracts.PaymentResult, bool) {
		return 0, contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: code, FailureMessage: msg}, false
	}
	if !orderIDPattern.MatchString(req.PartnerRef) {
		return refuse(contracts.FailurePartnerRejected, "orderId (PartnerRef) must be 1-100 characters of [A-Za-z0-9_-]")
	}
	major, err := majorUnits(req.Amount)
	if err != nil {
		return refuse(contracts.FailurePartnerRejected, err.Error())
	}
	if req.CaptureMethod != "" && req.CaptureMethod != contracts.CaptureAutomatic && req.CaptureMethod != contracts.CaptureManual {
		return refuse(contracts.FailurePartnerRejected, "LINE Pay adapter has no call for capture method "+string(req.CaptureMethod))
	}
	switch req.Flow {
	case contracts.FlowQR:
	case contracts.FlowRedirect:
		if u, err := url.Parse(req.ReturnURL); err != nil || !u.IsAbs() || len(req.ReturnURL) > 1000 {
			return refuse(contracts.FailurePartnerRejected, "a redirect payment needs an absolute return URL of at most 1000 characters")
		}
	case contracts.FlowBarcode:
		// TW codes have 18 digits, TH and global ones 12 (§7.4).
		if !isDigits(req.Barcode) || (len(req.Barcode) != 12 && len(req.Barcode) != 18) {
			return refuse(contracts.FailureBarcodeInvalid, "the scanned code is not a LINE Pay code (12 or 18 digits)")
		}
	default:
		// Unreachable through the engine (the flow is not in Capabilities().Flows): the
		// adapter has no request for it.
		return refuse(contracts.FailurePartnerRejected, "LINE Pay adapter has no call for flow "+string(req.Flow))
	}
	return major, contracts.PaymentResult{}, true
}

// payResult reads the answer of an Offline v4 pay (§5.1).
func (a *Adapter) payResult(r reply, req contracts.PaymentRequest) contracts.PaymentResult {
	switch r.verdict() {
	case verdictSuccess:
	case verdictFailed, verdictConfig:
		return a.refusedPayment(r, req.Barcode)
	default:
		// U and R codes, timeouts, non-200: the till must not charge again (§5.1 step 4).
		return a.unknownPayment(r, req.Barcode)
	}
	var info paymentInfo
	if err := r.env.decodeInfo(&info); err != nil || info.TransactionID.IsZero() {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "LINE Pay accepted the payment but its transactionId is missing or unreadable"}
	}
	res := contracts.PaymentResult{PartnerPaymentID: info.TransactionID.String(), PartnerCode: r.code(),
		PaidAt: parseTime(info.TransactionDate)}
	if sum, ok := sumPayInfo(info.PayInfo); !ok || sum != req.Amount.Amount {
		// §5.1 step 2: the engine reverses a payment that took another amount.
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = fmt.Sprintf("LINE Pay accepted the payment but its payInfo adds up to %s, not %s: reverse it",
			describeSum(info.PayInfo), req.Amount)
		return res
	}
	if req.CaptureMethod == contracts.CaptureManual {
		res.Outcome = contracts.OutcomeAuthorized
		return res
	}
	res.Outcome, res.AmountCaptured = contracts.OutcomeSucceeded, req.Amount.Amount
	return res
}

// describeSum words Σ payInfo for a message.
func describeSum(items []payInfo) string {
	sum, ok := sumPayInfo(items)
	if !ok {
		return "an unreadable amount"
	}
	return fmt.Sprintf("%d (minor units)", sum)
}

// createRequest sends the Online v3 request and answers OutcomePending with paymentUrl as
// the QR code to display.
func (a *Adapter) createRequest(ctx context.Context, req contracts.PaymentRequest, body requestBody) contracts.PaymentResult {
	r := a.call(ctx, a.cfg.Timeouts.Request, http.MethodPost, pathOnlineRequest, "", body, deviceOf(req.StoreID, req.TerminalID))
	switch r.verdict() {
	case verdictSuccess:
	case verdictFailed, verdictConfig:
		return a.refusedPayment(r)
	default:
		return a.unknownPayment(r)
	}
	var info requestInfo
	if err := r.env.decodeInfo(&info); err != nil || info.TransactionID.IsZero() || info.PaymentURL.Web == "" {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "LINE Pay accepted the payment request but did not return its transactionId and paymentUrl"}
	}
	expires := a.cfg.Now().Add(QRLifetime)
	tx := info.TransactionID.String()
	next := &contracts.NextAction{Type: contracts.NextActionDisplayQR, QRCodeURL: info.PaymentURL.Web,
		Deeplink: info.PaymentURL.App, ExpiresAt: &expires}
	if req.Flow == contracts.FlowRedirect {
		next = &contracts.NextAction{Type: contracts.NextActionRedirect, RedirectURL: info.PaymentURL.Web,
			Deeplink: info.PaymentURL.App, ExpiresAt: &expires}
	}
	return contracts.PaymentResult{
		Outcome: contracts.OutcomePending, PartnerPaymentID: tx, PartnerActionRef: tx, PartnerCode: r.code(), NextAction: next,
	}
}

// online reports whether a flow runs on the Online v3 API (a payment request the customer
// approves in the LINE app, shown as a QR code or opened by a redirect).
func online(f contracts.Flow) bool { return f == contracts.FlowQR || f == contracts.FlowRedirect }

// CompleteReturn confirms a redirect payment when the customer's browser comes back to
// payhub's return URL (§4.1: LINE appends transactionId and orderId to confirmUrl). The
// return proves nothing: its transactionId and orderId must be this payment's, and then
// the payment is read and confirmed exactly as GetPayment would (check, confirm on 0110
// with payhub's amount). A return that names another payment changes nothing: the answer
// is the payment's state, unconfirmed.
func (a *Adapter) CompleteReturn(ctx context.Context, ref contracts.PaymentRef, query url.Values) contracts.PaymentResult {
	tx, ok := txOf(ref)
	if ref.Flow != contracts.FlowRedirect || !ok {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "not a LINE Pay redirect payment with a transactionId"}
	}
	if got := query.Get("transactionId"); got != "" && (got != tx.String() || query.Get("orderId") != ref.PartnerRef) {
		return a.getOnline(ctx, ref, false)
	}
	return a.getOnline(ctx, ref, true)
}

// GetPayment asks LINE where a payment stands. Barcode payments: Offline v4 check by
// orderId. QR payments: Online v3 check by transactionId; an approved request (0110) is
// confirmed right away, because LINE moves the money only when the merchant confirms, and
// the confirm's result is returned. A QR payment payhub has canceled or failed is never
// confirmed. OutcomeUnknown means the query itself failed.
func (a *Adapter) GetPayment(ctx context.Context, ref contracts.PaymentRef) contracts.PaymentResult {
	if online(ref.Flow) {
		return a.getOnline(ctx, ref, true)
	}
	return a.getOffline(ctx, ref)
}

// getOffline maps the Offline v4 check (§5).
func (a *Adapter) getOffline(ctx context.Context, ref contracts.PaymentRef) contracts.PaymentResult {
	if !orderIDPattern.MatchString(ref.PartnerRef) {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "no valid orderId (PartnerRef) to query"}
	}
	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodGet, offlineOrderPath(ref.PartnerRef, "check"), "", nil, nil)
	if r.code() == codeNotFound {
		return contracts.PaymentResult{Outcome: contracts.OutcomeNotFound, PartnerCode: r.code(), FailureMessage: a.describe(r)}
	}
	if r.verdict() != verdictSuccess {
		return a.unknownPayment(r)
	}
	var info paymentInfo
	if err := r.env.decodeInfo(&info); err != nil {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(),
			FailureMessage: "LINE Pay answered the check but its info is unreadable"}
	}
	res := contracts.PaymentResult{PartnerPaymentID: info.TransactionID.String(), PartnerCode: r.code(),
		PaidAt: parseTime(info.TransactionDate)}
	if res.PartnerPaymentID == "" {
		res.PartnerPaymentID = ref.PartnerPaymentID
	}
	switch info.Status {
	case offlineComplete, offlineRefunded:
		res.Outcome = contracts.OutcomeSucceeded
		res.AmountCaptured, _ = sumPayInfo(info.PayInfo)
	case offlineAuthReady:
		// An authorization, or a payment still completing (§5): decisive only for a payment
		// payhub knows to be authorized, else details tell.
		if ref.Status == contracts.StatusAuthorized {
			res.Outcome = contracts.OutcomeAuthorized
			break
		}
		return a.offlineDetails(ctx, ref, res)
	case offlineCancel:
		res.Outcome, res.FailureMessage = contracts.OutcomeCanceled, "LINE Pay reports the order CANCEL (voided)"
	case offlineFail:
		res.Outcome, res.FailureCode = contracts.OutcomeFailed, failureCode(info.FailReturnCode)
		res.FailureMessage = "LINE Pay reports the order FAIL"
		if info.FailReturnCode != "" {
			res.FailureMessage += " (" + truncate(info.FailReturnCode, 8) + ")"
		}
	default:
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "LINE Pay reports an unrecognised order status " + truncate(info.Status, 40)
	}
	return res
}

// offlineDetails settles an AUTH_READY order by its details row: AUTHORIZATION is an
// authorization, CAPTURE a payment; anything else stays unknown (still completing).
func (a *Adapter) offlineDetails(ctx context.Context, ref contracts.PaymentRef, res contracts.PaymentResult) contracts.PaymentResult {
	row, r := a.paymentDetails(ctx, false, TxID{}, ref.PartnerRef)
	if row == nil || (row.PayStatus != payStatusAuthorization && row.PayStatus != payStatusCapture) {
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "LINE Pay reports the order AUTH_READY and its details do not show an authorization yet"
		if r.err != nil || r.verdict() != verdictSuccess {
			res.FailureMessage += ": " + a.describe(r)
		}
		return res
	}
	return detailResult(row, res.PartnerCode)
}

// getOnline maps the Online v3 check (§4.3). confirm says whether an approved request may
// be confirmed (GetPayment) or only reported (cancel's inquiry).
func (a *Adapter) getOnline(ctx context.Context, ref contracts.PaymentRef, confirm bool) contracts.PaymentResult {
	tx, ok := txOf(ref)
	if !ok {
		return a.getOnlineByOrder(ctx, ref)
	}
	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodGet, "/v3/payments/requests/"+tx.String()+"/check", "", nil, nil)
	base := contracts.PaymentResult{PartnerPaymentID: tx.String(), PartnerActionRef: tx.String(), PartnerCode: r.code()}
	if !r.ok() {
		return a.withIDs(a.unknownPayment(r), base)
	}
	switch r.env.ReturnCode {
	case codeSuccess:
		base.Outcome = contracts.OutcomePending
	case codeCheckApproved:
		switch {
		case ref.Status == contracts.StatusCanceled || ref.Status == contracts.StatusFailed:
			// payhub withdrew this request: it is never confirmed, and LINE expires it.
			base.Outcome = contracts.OutcomeCanceled
			base.FailureMessage = "the customer approved a request payhub had withdrawn; it is not confirmed and expires at LINE"
		case !confirm:
			base.Outcome = contracts.OutcomePending
			base.FailureMessage = "the customer approved; not confirmed yet"
		default:
			return a.confirm(ctx, ref, tx)
		}
	case codeCheckCanceled:
		base.Outcome = contracts.OutcomeCanceled
		base.FailureMessage = "LINE Pay reports the request canceled by the customer or expired (0121)"
	case codeCheckFailed:
		base.Outcome, base.FailureCode = contracts.OutcomeFailed, contracts.FailurePartnerRejected
		base.FailureMessage = "LINE Pay reports the request failed (0122)"
	case codeCheckCompleted:
		return a.onlineDetails(ctx, tx, base)
	case codeNotFound, codeRequestNotFound:
		base.Outcome, base.FailureMessage = contracts.OutcomeNotFound, a.describe(r)
	default:
		return a.withIDs(a.unknownPayment(r), base)
	}
	return base
}

// getOnlineByOrder looks a QR payment up by orderId when payhub never learned its
// transactionId (the request's answer was lost). Without the transactionId payhub cannot
// confirm, so the money cannot have moved unless details show a confirmed payment.
func (a *Adapter) getOnlineByOrder(ctx context.Context, ref contracts.PaymentRef) contracts.PaymentResult {
	if !orderIDPattern.MatchString(ref.PartnerRef) {
		return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "no transactionId or valid orderId to query"}
	}
	row, r := a.paymentDetails(ctx, true, TxID{}, ref.PartnerRef)
	switch {
	case row != nil:
		return detailResult(row, r.code())
	case r.ok() && (r.env.ReturnCode == codeSuccess || r.env.ReturnCode == codeNotFound):
		return contracts.PaymentResult{Outcome: contracts.OutcomeNotFound, PartnerCode: r.code(),
			FailureMessage: "LINE Pay has no confirmed payment with this orderId, and payhub holds no transactionId to confirm one"}
	default:
		return a.unknownPayment(r)
	}
}

// onlineDetails settles a completed request (check 0123) by its details row.
func (a *Adapter) onlineDetails(ctx context.Context, tx TxID, base contracts.PaymentResult) contracts.PaymentResult {
	row, r := a.paymentDetails(ctx, true, tx, "")
	if row == nil {
		res := a.withIDs(a.unknownPayment(r), base)
		res.FailureMessage = "LINE Pay reports the request completed (0123) but its details could not be read: " + res.FailureMessage
		return res
	}
	return a.withIDs(detailResult(row, base.PartnerCode), base)
}

// confirmResult codes that mean an earlier confirm (or a concurrent one) may have gone
// through: reconcile by details (§6.2 rule 2).
var reconcileConfirmCodes = map[string]bool{
	codeOrderIDUsed: true, codeDuplicateInProcess: true, codeAlreadyDone: true, codeTransactionExists: true,
}

// confirm completes an approved request with payhub's amount (§4.2) and returns its result.
// Repeating a confirm is safe: a repeat is refused (1172/1198/1165/1152) and reconciled by
// details.
func (a *Adapter) confirm(ctx context.Context, ref contracts.PaymentRef, tx TxID) contracts.PaymentResult {
	base := contracts.PaymentResult{PartnerPaymentID: tx.String(), PartnerActionRef: tx.String()}
	major, err := majorUnits(ref.Amount)
	if err != nil || ref.Amount.Currency != a.cfg.Currency {
		base.Outcome = contracts.OutcomeUnknown
		base.FailureMessage = fmt.Sprintf("the customer approved, but payhub cannot confirm %s on a %s channel", ref.Amount, a.cfg.Currency)
		return base
	}
	r := a.call(ctx, a.cfg.Timeouts.Confirm, http.MethodPost, "/v3/payments/"+tx.String()+"/confirm", "",
		amountBody{Amount: major, Currency: string(ref.Amount.Currency)}, nil)
	base.PartnerCode = r.code()
	switch v := r.verdict(); {
	case v == verdictSuccess:
	case reconcileConfirmCodes[r.code()]:
		return a.onlineDetails(ctx, tx, base)
	case r.code() == codeNotApprovedYet:
		base.Outcome, base.FailureMessage = contracts.OutcomePending, a.describe(r)
		return base
	case r.code() == codePaymentExpired:
		base.Outcome, base.FailureMessage = contracts.OutcomeCanceled, a.describe(r)
		return base
	case v == verdictFailed || v == verdictConfig:
		base.Outcome, base.FailureCode, base.FailureMessage = contracts.OutcomeFailed, failureCode(r.code()), a.describe(r)
		return base
	default:
		return a.withIDs(a.unknownPayment(r), base)
	}
	var info paymentInfo
	if err := r.env.decodeInfo(&info); err != nil {
		base.Outcome, base.FailureMessage = contracts.OutcomeUnknown, "LINE Pay accepted the confirm but its info is unreadable"
		return base
	}
	base.PaidAt = parseTime(info.TransactionDate)
	if sum, ok := sumPayInfo(info.PayInfo); !ok || sum != ref.Amount.Amount {
		base.Outcome = contracts.OutcomeUnknown
		base.FailureMessage = fmt.Sprintf("LINE Pay confirmed the payment but its payInfo adds up to %s, not %s: reverse it",
			describeSum(info.PayInfo), ref.Amount)
		return base
	}
	if info.AuthorizationExpireDate != "" {
		// Only a capture=false request answers with an authorization expiry (§4.2).
		base.Outcome = contracts.OutcomeAuthorized
		return base
	}
	base.Outcome, base.AmountCaptured = contracts.OutcomeSucceeded, ref.Amount.Amount
	return base
}

// paymentDetails reads the details row of one payment (§4.3): online GET /v3/payments,
// offline GET /v4/payments, by transactionId when tx is set, else by orderId. row is nil
// when LINE has no such confirmed payment or the read failed (r tells which).
func (a *Adapter) paymentDetails(ctx context.Context, online bool, tx TxID, orderID string) (*paymentInfo, reply) {
	path, q := pathOfflineDetails, url.Values{}
	if online {
		path = pathOnlineDetails
	}
	if !tx.IsZero() {
		q.Set("transactionId", tx.String())
	} else {
		q.Set("orderId", orderID)
	}
	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodGet, path, q.Encode(), nil, nil)
	if r.verdict() != verdictSuccess {
		return nil, r
	}
	var rows []paymentInfo
	if err := r.env.decodeInfo(&rows); err != nil {
		if len(r.env.Info) == 0 {
			return nil, r // no rows
		}
		r.err = fmt.Errorf("LINE Pay answered details with unreadable info")
		return nil, r
	}
	for i := range rows {
		row := &rows[i]
		if row.TransactionType != "" && row.TransactionType != "PAYMENT" {
			continue // a refund row
		}
		if (!tx.IsZero() && row.TransactionID == tx) || (tx.IsZero() && row.OrderID == orderID) {
			return row, r
		}
	}
	return nil, r
}

// detailResult maps a details row's payStatus (§4.3, §4.4).
func detailResult(row *paymentInfo, code string) contracts.PaymentResult {
	res := contracts.PaymentResult{PartnerPaymentID: row.TransactionID.String(), PartnerCode: code,
		PaidAt: parseTime(row.TransactionDate)}
	switch row.PayStatus {
	case payStatusCapture:
		res.Outcome = contracts.OutcomeSucceeded
		res.AmountCaptured, _ = sumPayInfo(row.PayInfo)
	case payStatusAuthorization:
		res.Outcome = contracts.OutcomeAuthorized
	case payStatusVoided, payStatusExpired:
		res.Outcome, res.FailureMessage = contracts.OutcomeCanceled, "LINE Pay reports the payment "+row.PayStatus
	default:
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = "LINE Pay details report an unrecognised payStatus " + truncate(row.PayStatus, 40)
	}
	return res
}

// txOf is the payment's transactionId: PartnerPaymentID, else PartnerActionRef.
func txOf(ref contracts.PaymentRef) (TxID, bool) {
	for _, s := range []string{ref.PartnerPaymentID, ref.PartnerActionRef} {
		if tx, err := ParseTxID(s); err == nil {
			return tx, true
		}
	}
	return TxID{}, false
}

// withIDs fills res's ids from base where res has none.
func (a *Adapter) withIDs(res, base contracts.PaymentResult) contracts.PaymentResult {
	if res.PartnerPaymentID == "" {
		res.PartnerPaymentID = base.PartnerPaymentID
	}
	if res.PartnerActionRef == "" {
		res.PartnerActionRef = base.PartnerActionRef
	}
	if res.PartnerCode == "" {
		res.PartnerCode = base.PartnerCode
	}
	return res
}

// unknownPayment is a payment answer payhub cannot be sure of.
func (a *Adapter) unknownPayment(r reply, hide ...string) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r, hide...)}
}

// refusedPayment is a definite refusal, with payhub's failure code for it.
func (a *Adapter) refusedPayment(r reply, hide ...string) contracts.PaymentResult {
	return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(),
		FailureCode: failureCode(r.code()), FailureMessage: a.describe(r, hide...)}
}
