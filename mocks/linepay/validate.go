package linepay

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"payhub/mocks/sim"
)

// maxOrderIDLength is LINE's orderId limit (docs/partners/linepay.md §4.1, §7.3).
const maxOrderIDLength = 100

// productIn is one line of a package (docs/partners/linepay.md §4.1).
type productIn struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Quantity json.RawMessage `json:"quantity"`
	Price    json.RawMessage `json:"price"`
}

// packageIn is one package of a request or v4 pay.
type packageIn struct {
	ID       string          `json:"id"`
	Amount   json.RawMessage `json:"amount"`
	UserFee  json.RawMessage `json:"userFee"`
	Name     string          `json:"name"`
	Products []productIn     `json:"products"`
}

// optionsIn is the options object of a request or v4 pay; fields the simulator does not
// use are accepted and ignored.
type optionsIn struct {
	Payment struct {
		Capture *bool  `json:"capture"`
		PayType string `json:"payType"`
	} `json:"payment"`
	Extra struct {
		BranchID   string `json:"branchId"`
		BranchName string `json:"branchName"`
	} `json:"extra"`
	Shipping struct {
		FeeAmount json.RawMessage `json:"feeAmount"`
	} `json:"shipping"`
}

// captureOption is options.payment.capture, default true.
func (o optionsIn) captureOption() bool { return o.Payment.Capture == nil || *o.Payment.Capture }

// decodeBody decodes a JSON body: 2102 when it is not JSON, 2101 when a field has the wrong
// type.
func decodeBody(body []byte, v any) *apiError {
	if err := sim.DecodeJSON(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fail(codeParameterError, "Parameter error: "+te.Field+" has the wrong type.")
		}
		return fail(codeBadJSON)
	}
	return nil
}

// decodeOptionalBody decodes a body that may be absent (void, full refund): both an empty
// body and {} are accepted (docs/partners/linepay.md §3.1).
func decodeOptionalBody(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return decodeBody(body, v)
}

// present reports whether a raw JSON field was sent with a non-null value.
func present(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// checkOrder validates the fields every new payment carries: orderId (2101 when missing or
// over 100 characters), currency (2101 missing, 1178 not the channel's), amount (2101,
// 1124, 1183).
func (s *Simulator) checkOrder(orderID, currency string, rawAmount json.RawMessage) (amount, *apiError) {
	switch {
	case orderID == "":
		return 0, fail(codeParameterError, "Parameter error: orderId is required.")
	case utf8.RuneCountInString(orderID) > maxOrderIDLength:
		return 0, fail(codeParameterError, "Parameter error: orderId is longer than 100 characters.")
	case currency == "":
		return 0, fail(codeParameterError, "Parameter error: currency is required.")
	case !present(rawAmount):
		return 0, fail(codeParameterError, "Parameter error: amount is required.")
	case currency != s.cfg.Currency:
		return 0, fail(codeBadCurrency)
	}
	return parseAmount(rawAmount, currency)
}

// checkAmountCurrency validates the {amount, currency} body of Confirm and Capture.
func (s *Simulator) checkAmountCurrency(rawAmount json.RawMessage, currency string) (amount, *apiError) {
	switch {
	case !present(rawAmount) || currency == "":
		return 0, fail(codeParameterError, "Parameter error: amount and currency are required.")
	case currency != s.cfg.Currency:
		return 0, fail(codeBadCurrency)
	}
	return parseAmount(rawAmount, currency)
}

// checkPackages validates packages against the total (docs/partners/linepay.md §4.1): at least one
// package, each with an id, an amount equal to Σ quantity × price of its products, and
// Σ package amounts + Σ userFee + shipping fee equal to total. Mismatches answer 2101
// (the code LINE uses is unconfirmed, §7.2).
func checkPackages(pkgs []packageIn, opts optionsIn, currency string, total amount) *apiError {
	if len(pkgs) == 0 {
		return fail(codeParameterError, "Parameter error: packages is required.")
	}
	var sum amount
	for _, pk := range pkgs {
		if pk.ID == "" || !present(pk.Amount) || len(pk.Products) == 0 {
			return fail(codeParameterError, "Parameter error: packages[].id, amount and products are required.")
		}
		pa, err := parseAmount(pk.Amount, currency)
		if err != nil {
			return err
		}
		var lines amount
		for _, pr := range pk.Products {
			q, ok := parseQuantity(pr.Quantity)
			if pr.Name == "" || !ok || !present(pr.Price) {
				return fail(codeParameterError, "Parameter error: products[].name, quantity and price are required.")
			}
			price, err := parseSignedAmount(pr.Price, currency)
			if err != nil {
				return err
			}
			lines += amount(q) * price
		}
		if lines != pa {
			return fail(codeParameterError, "Parameter error: package "+pk.ID+" amount differs from the sum of its products.")
		}
		sum += pa
		if present(pk.UserFee) {
			fee, err := parseSignedAmount(pk.UserFee, currency)
			if err != nil {
				return err
			}
			sum += fee
		}
	}
	if present(opts.Shipping.FeeAmount) {
		fee, err := parseSignedAmount(opts.Shipping.FeeAmount, currency)
		if err != nil {
			return err
		}
		sum += fee
	}
	if sum != total {
		return fail(codeParameterError, "Parameter error: amount differs from the sum of the packages.")
	}
	return nil
}
