package paypay

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// qrURLBase is where simulated QR code URLs point. The .invalid domain never resolves: the
// URL is only rendered as a QR image; the customer "pays" through /_sim/.
const qrURLBase = "https://qr.paypay-sim.invalid/"

// orderItem is an order line of a QR request (obsolete but still accepted).
type orderItem struct {
	Name      string `json:"name"`
	Category  string `json:"category,omitempty"`
	Quantity  int    `json:"quantity"`
	ProductID string `json:"productId,omitempty"`
	UnitPrice *money `json:"unitPrice,omitempty"`
}

// createCodeRequest is the body of POST /v2/codes (docs/partners/paypay.md §4.1).
type createCodeRequest struct {
	MerchantPaymentID   string      `json:"merchantPaymentId"`
	Amount              *amountIn   `json:"amount"`
	CodeType            string      `json:"codeType"`
	OrderDescription    string      `json:"orderDescription"`
	OrderItems          []orderItem `json:"orderItems"`
	StoreInfo           string      `json:"storeInfo"`
	StoreID             string      `json:"storeId"`
	TerminalID          string      `json:"terminalId"`
	RequestedAt         *int64      `json:"requestedAt"`
	IsAuthorization     bool        `json:"isAuthorization"`
	AuthorizationExpiry *int64      `json:"authorizationExpiry"`
	RedirectURL         string      `json:"redirectUrl"`
	RedirectType        string      `json:"redirectType"`
	UserAgent           string      `json:"userAgent"`
}

func (req *createCodeRequest) validate() (int64, *apiError) {
	if err := checkMerchantID("merchantPaymentId", req.MerchantPaymentID); err != nil {
		return 0, err
	}
	amount, err := checkAmount(req.Amount)
	if err != nil {
		return 0, err
	}
	switch {
	case req.CodeType == "":
		return 0, fail(resMissingRequest, "codeType is required")
	case req.CodeType != "ORDER_QR":
		return 0, fail(resInvalidRequest, "codeType must be ORDER_QR")
	case req.AuthorizationExpiry != nil && !req.IsAuthorization:
		return 0, fail(resInvalidRequest, "authorizationExpiry needs isAuthorization true")
	case len(req.OrderDescription) > 255 || len(req.StoreID) > 255 || len(req.TerminalID) > 255 || len(req.StoreInfo) > 255:
		return 0, fail(resInvalidRequest, "orderDescription, storeInfo, storeId and terminalId are at most 255 characters")
	}
	return amount, nil
}

// codeFingerprint is the request body with requestedAt removed (SDKs rewrite it on every
// send), in canonical key order, so repeated identical requests compare equal.
func codeFingerprint(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	delete(m, "requestedAt")
	b, _ := json.Marshal(m)
	return string(b)
}

// createCode serves POST /v2/codes.
func (s *Simulator) createCode(w http.ResponseWriter, _ *http.Request, in request) {
	var req createCodeRequest
	if err := decode(in.body, &req); err != nil {
		writeError(w, err.rc, err.message)
		return
	}
	amount, verr := req.validate()
	if verr != nil {
		writeError(w, verr.rc, verr.message)
		return
	}
	fingerprint := codeFingerprint(in.body)

	s.mu.Lock()
	defer s.mu.Unlock()
	if p, dup := s.payments[req.MerchantPaymentID]; dup {
		if c := s.codes[p.codeID]; s.cfg.ReplayDuplicateQR && c != nil && c.fingerprint == fingerprint {
			writeResult(w, resCreated, "Success", c.response)
			return
		}
		writeError(w, resDuplicateQR, "Duplicate merchantPaymentId")
		return
	}
	now := s.now()
	var authExpiry time.Time
	if req.AuthorizationExpiry != nil {
		// Without it the authorization's lifetime starts when the customer pays (payQR).
		var err *apiError
		if authExpiry, err = s.authorizationExpiry(req.AuthorizationExpiry, "authorizationExpiry", now); err != nil {
			writeError(w, err.rc, err.message)
			return
		}
	}
	requestedAt := now
	if req.RequestedAt != nil {
		requestedAt = time.Unix(*req.RequestedAt, 0)
	}
	code := &qrCode{
		codeID:            s.newCodeID(),
		merchantPaymentID: req.MerchantPaymentID,
		expiresAt:         now.Add(s.cfg.QRLifetime),
		fingerprint:       fingerprint,
	}
	code.response = codeResponse(code, &req, amount, requestedAt)
	s.codes[code.codeID] = code
	s.addPayment(&payment{
		merchantPaymentID: req.MerchantPaymentID,
		kind:              KindQR,
		status:            StatusCreated,
		amount:            amount,
		codeID:            code.codeID,
		storeID:           req.StoreID,
		terminalID:        req.TerminalID,
		orderDescription:  req.OrderDescription,
		requestedAt:       requestedAt,
		createdAt:         now,
		expiresAt:         code.expiresAt,
		preAuth:           req.IsAuthorization,
		authExpiresAt:     authExpiry,
	})
	writeResult(w, resCreated, "Success", code.response)
}

// codeResponse is the data of a created QR code: its id, url, deeplink and expiry plus
// echoes of the request. Order items echo unit_price in snake_case, as PayPay does.
func codeResponse(c *qrCode, req *createCodeRequest, amount int64, requestedAt time.Time) map[string]any {
	qrURL := qrURLBase + c.codeID
	data := map[string]any{
		"codeId":            c.codeID,
		"url":               qrURL,
		"deeplink":          "paypay://payment?link_key=" + url.QueryEscape(qrURL),
		"expiryDate":        c.expiresAt.Unix(),
		"merchantPaymentId": req.MerchantPaymentID,
		"amount":            jpy(amount),
		"codeType":          req.CodeType,
		"requestedAt":       requestedAt.Unix(),
		"isAuthorization":   req.IsAuthorization,
	}
	if req.AuthorizationExpiry != nil {
		data["authorizationExpiry"] = *req.AuthorizationExpiry
	}
	optional := map[string]string{
		"orderDescription": req.OrderDescription, "storeInfo": req.StoreInfo, "storeId": req.StoreID,
		"terminalId": req.TerminalID, "redirectUrl": req.RedirectURL, "redirectType": req.RedirectType,
		"userAgent": req.UserAgent,
	}
	for k, v := range optional {
		if v != "" {
			data[k] = v
		}
	}
	if len(req.OrderItems) > 0 {
		items := make([]map[string]any, 0, len(req.OrderItems))
		for _, it := range req.OrderItems {
			item := map[string]any{"name": it.Name, "quantity": it.Quantity}
			if it.Category != "" {
				item["category"] = it.Category
			}
			if it.ProductID != "" {
				item["productId"] = it.ProductID
			}
			if it.UnitPrice != nil {
				item["unit_price"] = it.UnitPrice
			}
			items = append(items, item)
		}
		data["orderItems"] = items
	}
	return data
}

// addPayment records a new payment; a cancel that arrived before the payment existed is
// carried over so it applies once the customer pays. Caller holds s.mu.
func (s *Simulator) addPayment(p *payment) {
	if s.pendingCancels[p.merchantPaymentID] {
		p.cancelRequested = true
		delete(s.pendingCancels, p.merchantPaymentID)
	}
	s.payments[p.merchantPaymentID] = p
	s.order = append(s.order, p)
	if p.paymentID != "" {
		s.byPaymentID[p.paymentID] = p
	}
}

// deleteCode serves DELETE /v2/codes/{codeId}. Deleting disables the code; a payment
// already made stays as it is. Deleting again answers the same.
func (s *Simulator) deleteCode(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[in.params["codeId"]]
	if !ok {
		writeError(w, resQRNotFound, "Dynamic QR code not found")
		return
	}
	c.deleted = true
	writeResult(w, resSuccess, "Success", map[string]string{"qrStatus": "DELETED"})
}

// getCodePayment serves GET /v2/codes/payments/{merchantPaymentId}.
func (s *Simulator) getCodePayment(w http.ResponseWriter, _ *http.Request, in request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.find(in.params["merchantPaymentId"])
	if !ok || (s.cfg.ExpiredQRNotFound && s.qrLapsed(p)) {
		writeError(w, resQRPaymentAbsent, "Dynamic QR payment not found")
		return
	}
	writeResult(w, resSuccess, "Success", p.view())
}

// qrLapsed reports an unpaid QR payment whose code expired or was deleted. Caller holds s.mu.
func (s *Simulator) qrLapsed(p *payment) bool {
	c := s.codes[p.codeID]
	if p.status != StatusCreated || c == nil {
		return false
	}
	return c.deleted || !s.now().Before(c.expiresAt)
}
