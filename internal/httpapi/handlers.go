package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/contracts/api"
	"payhub/internal/hub"
	"payhub/internal/idempotency"
	"payhub/internal/jsonin"
	"payhub/internal/render"
)

var _ api.ServerInterface = (*Server)(nil)

var (
	barcodePattern    = regexp.MustCompile(`^[0-9]{8,32}$`)
	cardTokenPattern  = regexp.MustCompile(`^[A-Za-z0-9+/=_.:-]{8,256}$`)
	terminalIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	orderIDPattern    = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,64}$`)
	currencyPattern   = regexp.MustCompile(`^[A-Z]{3}$`)
)

func invalidField(pointer, detail string) *contracts.Error {
	return &contracts.Error{Code: contracts.CodeInvalidRequest, Detail: detail, Pointer: pointer}
}

// readJSON strictly decodes the body the contract validator read into v; an empty body is
// allowed only when optional is set.
func readJSON(c *gin.Context, v any, optional bool) ([]byte, error) {
	raw, _ := c.Get(bodyKey)
	body, _ := raw.([]byte)
	if len(body) == 0 {
		if optional {
			return nil, nil
		}
		return nil, invalidField("", "A JSON body is required.")
	}
	return body, jsonin.Decode(body, v)
}

// writeResponse writes a hub response (first or replayed).
func writeResponse(c *gin.Context, r hub.Response) {
	if r.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	ct := "application/json"
	if r.Kind == contracts.AnswerRefused {
		ct = "application/problem+json"
	}
	c.Data(render.AnswerStatus(r.Answer), ct, r.Body)
}

// execute runs a mutating command under the request's Idempotency-Key and writes its
// (first or replayed) response.
func (s *Server) execute(c *gin.Context, body []byte, run func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error)) {
	idem, err := idempotencyFor(c, body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp, err := run(c.Request.Context(), callerFrom(c), idem)
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeResponse(c, resp)
}

// CreatePayment handles POST /v1/payments.
func (s *Server) CreatePayment(c *gin.Context, _ api.CreatePaymentParams) {
	var req api.CreatePaymentRequest
	body, err := readJSON(c, &req, false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	cmd, err := createCommand(req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CreatePayment(ctx, caller, idem, cmd)
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// createCommand checks the request's formats and turns it into a hub command; the hub
// checks the business rules (method, flow, currency, amount limits).
func createCommand(req api.CreatePaymentRequest) (hub.CreatePayment, error) {
	cmd := hub.CreatePayment{
		Amount: contracts.Money{Amount: req.Amount, Currency: contracts.Currency(req.Currency)},
		Method: contracts.Method(req.Method), Flow: contracts.Flow(req.Flow),
		Barcode: deref(req.Barcode), UserAuthorizationID: deref(req.UserAuthorizationId), LinkedAccountID: deref(req.LinkedAccount),
		TerminalID: deref(req.TerminalId), OrderID: deref(req.OrderId),
		CardToken: deref(req.CardToken), ReturnURL: deref(req.ReturnUrl),
	}
	if req.PresentedCard != nil {
		cmd.Card = &contracts.PresentedCard{Number: deref(req.PresentedCard.Number), IDm: deref(req.PresentedCard.Idm)}
	}
	if req.AllowPartial != nil {
		cmd.AllowPartial = *req.AllowPartial
	}
	if req.Capture != nil {
		cmd.CaptureMethod = contracts.CaptureMethod(*req.Capture)
	}
	switch {
	case req.Method == "":
		return cmd, invalidField("/method", "method is required.")
	case !req.Flow.Valid():
		return cmd, invalidField("/flow", "flow must be one of barcode, qr, linked, redirect, card_present.")
	case !currencyPattern.MatchString(req.Currency):
		return cmd, invalidField("/currency", "currency must be an ISO 4217 code such as JPY.")
	case req.CardToken != nil && !cardTokenPattern.MatchString(*req.CardToken):
		return cmd, invalidField("/card_token", "card_token must be 8 to 256 of A-Z a-z 0-9 + / = _ . : -.")
	case req.Barcode != nil && !barcodePattern.MatchString(*req.Barcode):
		return cmd, invalidField("/barcode", "barcode must be 8 to 32 digits.")
	case req.UserAuthorizationId != nil && (len(*req.UserAuthorizationId) < 1 || len(*req.UserAuthorizationId) > 64):
		return cmd, invalidField("/user_authorization_id", "user_authorization_id must be 1 to 64 characters.")
	case req.TerminalId != nil && !terminalIDPattern.MatchString(*req.TerminalId):
		return cmd, invalidField("/terminal_id", "terminal_id must be 1 to 64 of A-Z a-z 0-9 . _ -.")
	case req.OrderId != nil && !orderIDPattern.MatchString(*req.OrderId):
		return cmd, invalidField("/order_id", "order_id must be 1 to 64 of A-Z a-z 0-9 . _ : / -.")
	}
	if req.Metadata != nil {
		if len(*req.Metadata) > 20 {
			return cmd, invalidField("/metadata", "metadata takes at most 20 entries.")
		}
		for k, v := range *req.Metadata {
			if len(k) < 1 || len(k) > 40 || len(v) > 500 {
				return cmd, invalidField("/metadata", "metadata keys are 1–40 characters and values at most 500.")
			}
		}
		cmd.Metadata = *req.Metadata
	}
	return cmd, nil
}

// GetPayment handles GET /v1/payments/{id}.
func (s *Server) GetPayment(c *gin.Context, id api.PaymentIdPath) {
	p, err := s.hub.GetPayment(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", render.Payment(p))
}

// ListPayments handles GET /v1/payments.
func (s *Server) ListPayments(c *gin.Context, params api.ListPaymentsParams) {
	q := hub.ListPayments{Cursor: deref(params.Cursor), TerminalID: deref(params.TerminalId), OrderID: deref(params.OrderId)}
	if params.Limit != nil {
		q.Limit = *params.Limit
		if q.Limit == 0 {
			q.Limit = -1 // explicit 0 is out of range, not "default"
		}
	}
	if params.Status != nil {
		q.Status = contracts.Status(*params.Status)
	}
	if params.Method != nil {
		q.Method = contracts.Method(*params.Method)
	}
	if params.CreatedGte != nil {
		q.CreatedGTE = *params.CreatedGte
	}
	if params.CreatedLt != nil {
		q.CreatedLT = *params.CreatedLt
	}
	page, err := s.hub.ListPayments(c.Request.Context(), callerFrom(c), q)
	if err != nil {
		s.writeError(c, err)
		return
	}
	list := api.PaymentList{Object: api.PaymentListObjectList, Data: make([]api.Payment, 0, len(page.Payments)), HasMore: page.HasMore}
	for _, p := range page.Payments {
		list.Data = append(list.Data, render.APIPayment(p))
	}
	if page.HasMore {
		list.NextCursor = &page.NextCursor
	}
	body, _ := json.Marshal(list)
	c.Data(http.StatusOK, "application/json", body)
}

// checkReason limits a store's free-text reason.
func checkReason(reason *string) error {
	if reason != nil && len(*reason) > 255 {
		return invalidField("/reason", "reason takes at most 255 characters.")
	}
	return nil
}

// CancelPayment handles POST /v1/payments/{id}/cancel.
func (s *Server) CancelPayment(c *gin.Context, id api.PaymentIdPath, _ api.CancelPaymentParams) {
	var req api.CancelPaymentRequest
	body, err := readJSON(c, &req, true)
	if err == nil {
		err = checkReason(req.Reason)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CancelPayment(ctx, caller, idem, id, deref(req.Reason))
	})
}

// CreateRefund handles POST /v1/payments/{id}/refunds.
func (s *Server) CreateRefund(c *gin.Context, id api.PaymentIdPath, _ api.CreateRefundParams) {
	var req api.CreateRefundRequest
	body, err := readJSON(c, &req, false)
	if err == nil {
		err = checkReason(req.Reason)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CreateRefund(ctx, caller, idem, id, hub.CreateRefund{Amount: req.Amount, Reason: deref(req.Reason)})
	})
}

// CapturePayment handles POST /v1/payments/{id}/capture.
func (s *Server) CapturePayment(c *gin.Context, id api.PaymentIdPath, _ api.CapturePaymentParams) {
	var req api.CapturePaymentRequest
	body, err := readJSON(c, &req, false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.execute(c, body, func(ctx context.Context, caller hub.Caller, idem idempotency.Key) (hub.Response, error) {
		return s.hub.CapturePayment(ctx, caller, idem, id, req.Amount)
	})
}

// ListRefunds handles GET /v1/payments/{id}/refunds.
func (s *Server) ListRefunds(c *gin.Context, id api.PaymentIdPath) {
	refunds, err := s.hub.ListRefunds(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	list := api.RefundList{Object: api.RefundListObjectList, Data: make([]api.Refund, 0, len(refunds))}
	for _, r := range refunds {
		list.Data = append(list.Data, render.APIRefund(r))
	}
	body, _ := json.Marshal(list)
	c.Data(http.StatusOK, "application/json", body)
}

// GetRefund handles GET /v1/refunds/{id}.
func (s *Server) GetRefund(c *gin.Context, id string) {
	r, err := s.hub.GetRefund(c.Request.Context(), callerFrom(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", render.Refund(r))
}
