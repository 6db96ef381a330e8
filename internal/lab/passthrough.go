package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	linepayadapter "payhub/adapters/linepay"
	paypayadapter "payhub/adapters/paypay"
	"payhub/contracts"
	"payhub/internal/app"
	"payhub/internal/httpapi"
	"payhub/internal/ids"
)

// passthroughCommand is the bench's baseline: the thinnest server that still makes the
// partner call payhub makes. It verifies nothing (no token, no contract, no idempotency),
// stores nothing, and answers from the adapter's result. Hidden: it exists to be measured
// next to serve by `payhub bench`, never to take payments.
func passthroughCommand() *cobra.Command {
	var addr, cpuProfile string
	cmd := &cobra.Command{
		Use:    "passthrough",
		Short:  "Bench baseline: a bare gin pass-through to the partner adapters (verifies and stores nothing)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if cpuProfile != "" {
				stopProfile, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			h, err := newPassthrough()
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "passthrough serving on %s\n", ln.Addr())
			return app.ServeUntilDone(ctx, ln, h, 2*time.Second)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:7190", "listen address")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	return cmd
}

// startCPUProfile profiles the process into path until the returned function runs.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// passthrough holds the same adapters serve builds, from the same environment.
type passthrough struct {
	paypay  contracts.Partner
	linepay contracts.Partner
	ids     *ids.Generator
}

func newPassthrough() (http.Handler, error) {
	ppCfg, lpCfg, err := app.PartnersFromEnv()
	if err != nil {
		return nil, err
	}
	// The same pooled client serve gives its adapters, so the comparison stays fair.
	partnerHTTP := app.PartnerHTTPClient()
	ppCfg.HTTPClient = partnerHTTP
	pp, err := paypayadapter.New(ppCfg)
	if err != nil {
		return nil, err
	}
	p := &passthrough{paypay: pp, ids: ids.New(contracts.SystemClock{})}
	if lpCfg != nil {
		lpCfg.HTTPClient = partnerHTTP
		if p.linepay, err = linepayadapter.New(*lpCfg); err != nil {
			return nil, err
		}
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.POST("/v1/payments", p.createPayment)
	e.POST("/v1/payments/:id/refunds", p.refund)
	e.GET("/v1/payments/:id", p.lookup)
	return e, nil
}

// passthroughPayment is the part of payhub's create-payment body the pass-through reads.
type passthroughPayment struct {
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Method     string `json:"method"`
	Flow       string `json:"flow"`
	Barcode    string `json:"barcode"`
	TerminalID string `json:"terminal_id"`
	OrderID    string `json:"order_id"`
	Capture    string `json:"capture"`
}

// echoRequestID answers with the caller's X-Request-Id, as payhub does (the bench tells
// its operations apart by it).
func echoRequestID(c *gin.Context) {
	if id := c.GetHeader("X-Request-Id"); id != "" {
		c.Header("X-Request-Id", id)
	}
}

func (p *passthrough) partner(method string) contracts.Partner {
	switch method {
	case string(contracts.MethodPayPay):
		return p.paypay
	case string(contracts.MethodLinePay):
		return p.linepay
	}
	return nil
}

// createPayment makes the adapter call payhub would make and answers a payment-shaped
// JSON. The id carries what a later refund needs (no state is kept): payment id, method
// and the partner's payment id.
func (p *passthrough) createPayment(c *gin.Context) {
	echoRequestID(c)
	var req passthroughPayment
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, httpapi.MaxBodyBytes))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	partner := p.partner(req.Method)
	if err != nil || partner == nil {
		c.JSON(http.StatusBadRequest, gin.H{"code": "invalid_request"})
		return
	}
	id := p.ids.New(contracts.PrefixPayment)
	capture := contracts.CaptureAutomatic
	if req.Capture == "manual" {
		capture = contracts.CaptureManual
	}
	description := "Payment " + id
	if req.OrderID != "" {
		description = "Order " + req.OrderID
	}
	res := partner.CreatePayment(context.WithoutCancel(c.Request.Context()), contracts.PaymentRequest{
		PartnerRef: id + "_1", Amount: contracts.Money{Amount: req.Amount, Currency: contracts.Currency(req.Currency)},
		Flow: contracts.Flow(req.Flow), CaptureMethod: capture, Barcode: req.Barcode, StoreID: "passthrough",
		TerminalID: req.TerminalID, Description: description, RequestedAt: time.Now().UTC(),
	})
	status := passthroughStatus(res.Outcome)
	out := gin.H{"id": id + "." + req.Method + "." + res.PartnerPaymentID, "object": "payment", "status": status,
		"amount": req.Amount, "currency": req.Currency, "method": req.Method, "flow": req.Flow}
	if res.NextAction != nil {
		out["next_action"] = res.NextAction
	}
	if res.FailureCode != "" {
		out["failure_code"] = res.FailureCode
	}
	c.JSON(http.StatusCreated, out)
}

// passthroughStatus maps an adapter outcome to the payment status payhub would answer.
func passthroughStatus(o contracts.Outcome) string {
	switch o {
	case contracts.OutcomeSucceeded:
		return string(contracts.StatusSucceeded)
	case contracts.OutcomeAuthorized:
		return string(contracts.StatusAuthorized)
	case contracts.OutcomePending:
		return string(contracts.StatusRequiresAction)
	case contracts.OutcomeFailed, contracts.OutcomeCanceled:
		return string(contracts.StatusFailed)
	}
	return string(contracts.StatusUnknown)
}

// refund refunds through the adapter, reading the payment from the id it handed out.
func (p *passthrough) refund(c *gin.Context) {
	echoRequestID(c)
	paymentID, method, partnerPaymentID, err := parsePassthroughID(c.Param("id"))
	partner := p.partner(method)
	var req struct {
		Amount int64  `json:"amount"`
		Reason string `json:"reason"`
	}
	if err == nil {
		body, rerr := io.ReadAll(io.LimitReader(c.Request.Body, httpapi.MaxBodyBytes))
		if err = rerr; err == nil {
			err = json.Unmarshal(body, &req)
		}
	}
	if err != nil || partner == nil {
		c.JSON(http.StatusBadRequest, gin.H{"code": "invalid_request"})
		return
	}
	currency := contracts.JPY
	if method == string(contracts.MethodLinePay) {
		currency = contracts.TWD
	}
	refundID := p.ids.New(contracts.PrefixRefund)
	res := partner.Refund(context.WithoutCancel(c.Request.Context()), contracts.RefundRequest{
		PartnerRef: refundID, Amount: contracts.Money{Amount: req.Amount, Currency: currency}, Reason: req.Reason,
		Payment: contracts.PaymentRef{PartnerRef: paymentID + "_1", PartnerPaymentID: partnerPaymentID,
			Flow: contracts.FlowBarcode, Status: contracts.StatusSucceeded},
		RequestedAt: time.Now().UTC(),
	})
	c.JSON(http.StatusCreated, gin.H{"id": refundID, "object": "refund", "payment_id": paymentID, "status": string(res.Outcome), "amount": req.Amount})
}

// lookup answers without any work: payhub reads its own record here and calls no partner,
// and the pass-through has no record to read.
func (p *passthrough) lookup(c *gin.Context) {
	echoRequestID(c)
	c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "object": "payment"})
}

// parsePassthroughID splits "pay_….method.partnerPaymentID".
func parsePassthroughID(id string) (paymentID, method, partnerPaymentID string, err error) {
	parts := strings.SplitN(id, ".", 3)
	if len(parts) != 3 {
		return "", "", "", errors.New("not a pass-through payment id")
	}
	return parts[0], parts[1], parts[2], nil
}
