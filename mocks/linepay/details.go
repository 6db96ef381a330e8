package linepay

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// maxDetails is how many results details answers before 1177 (docs/partners/linepay.md §4.3).
const maxDetails = 100

// detailsQuery is a parsed details or authorizations query.
type detailsQuery struct {
	txIDs    []txID
	orderIDs []string
	fields   string
}

// parseDetailsQuery reads transactionId and orderId in every spelling clients use: plain,
// repeated keys, comma-joined (transactionId=A%2CB), and PHP brackets (transactionId[]=,
// transactionId[0]=, percent-encoded or not). At least one id is required (2101).
func parseDetailsQuery(raw string) (detailsQuery, *apiError) {
	var q detailsQuery
	values, err := url.ParseQuery(raw)
	if err != nil {
		return q, fail(codeParameterError, "Parameter error: malformed query.")
	}
	for key, vs := range values {
		name := key
		if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
			name = key[:i]
		}
		for _, v := range vs {
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				switch name {
				case "transactionId":
					id, ok := parseTxID(part)
					if !ok {
						return q, fail(codeParameterError, "Parameter error: transactionId must be digits.")
					}
					q.txIDs = append(q.txIDs, id)
				case "orderId":
					q.orderIDs = append(q.orderIDs, part)
				case "fields":
					q.fields = strings.ToUpper(part)
				}
			}
		}
	}
	switch q.fields {
	case "", "ALL", "TRANSACTION", "ORDER":
	default:
		return q, fail(codeParameterError, "Parameter error: fields must be TRANSACTION, ORDER or ALL.")
	}
	if len(q.txIDs) == 0 && len(q.orderIDs) == 0 {
		return q, fail(codeParameterError, "Parameter error: transactionId or orderId is required.")
	}
	return q, nil
}

// refundRow is one entry of refundList.
type refundRow struct {
	RefundTransactionID   jsonID `json:"refundTransactionId"`
	TransactionType       string `json:"transactionType"`
	RefundAmount          amount `json:"refundAmount"`
	RefundTransactionDate string `json:"refundTransactionDate"`
}

// detailInfo is one entry of details' info[]: a payment, or a refund when asked for by its
// refundTransactionId.
type detailInfo struct {
	TransactionID           jsonID          `json:"transactionId"`
	TransactionDate         string          `json:"transactionDate"`
	TransactionType         string          `json:"transactionType"`
	PayInfo                 []payInfo       `json:"payInfo"`
	Currency                string          `json:"currency"`
	OrderID                 string          `json:"orderId"`
	PayStatus               string          `json:"payStatus,omitempty"`
	AuthorizationExpireDate string          `json:"authorizationExpireDate,omitempty"`
	OriginalTransactionID   *jsonID         `json:"originalTransactionId,omitempty"`
	RefundList              []refundRow     `json:"refundList,omitempty"`
	Packages                json.RawMessage `json:"packages,omitempty"`
	Extra                   *branchInfo     `json:"extra,omitempty"`
}

// branchInfo echoes options.extra.
type branchInfo struct {
	BranchID   string `json:"branchId,omitempty"`
	BranchName string `json:"branchName,omitempty"`
}

// payStatus is details' payStatus for a confirmed payment.
func payStatus(p *payment) string {
	switch p.status {
	case StatusCaptured:
		return "CAPTURE"
	case StatusAuthorized:
		return "AUTHORIZATION"
	case StatusVoided:
		return "VOIDED_AUTHORIZATION"
	case StatusExpired:
		return "EXPIRED_AUTHORIZATION"
	}
	return ""
}

// refundType is PAYMENT_REFUND for a refund of everything captured, else PARTIAL_REFUND.
func refundType(p *payment, r *refund) string {
	if r.amount == p.captured {
		return "PAYMENT_REFUND"
	}
	return "PARTIAL_REFUND"
}

// paymentDetail renders p for details. Needs s.mu.
func (s *Simulator) paymentDetail(p *payment, fields string) detailInfo {
	d := detailInfo{
		TransactionID: s.jid(p.txID), TransactionDate: lineTime(p.transactionDate), TransactionType: "PAYMENT",
		PayInfo: p.payInfoOf(false), Currency: p.currency, OrderID: p.orderID, PayStatus: payStatus(p),
	}
	if !p.capture {
		d.AuthorizationExpireDate = lineTime(p.authExpiresAt)
	}
	for _, r := range p.refunds {
		d.RefundList = append(d.RefundList, refundRow{RefundTransactionID: s.jid(r.id), TransactionType: refundType(p, r),
			RefundAmount: -r.amount, RefundTransactionDate: lineTime(r.at)})
	}
	if fields != "TRANSACTION" {
		d.Packages = p.packages
		if p.branchID != "" || p.branchName != "" {
			d.Extra = &branchInfo{BranchID: p.branchID, BranchName: p.branchName}
		}
	}
	return d
}

// refundDetail renders refund r of p, asked for by its refundTransactionId. Needs s.mu.
func (s *Simulator) refundDetail(p *payment, r *refund) detailInfo {
	orig := s.jid(p.txID)
	return detailInfo{
		TransactionID: s.jid(r.id), TransactionDate: lineTime(r.at), TransactionType: refundType(p, r),
		PayInfo: []payInfo{{Method: p.method, Amount: -r.amount}}, Currency: p.currency, OrderID: p.orderID,
		OriginalTransactionID: &orig,
	}
}

// lookup returns the details rows for q in ledger order: confirmed payments named by
// transactionId or orderId, and refunds named by refundTransactionId. keep filters the
// payments. Needs s.mu.
func (s *Simulator) lookup(q detailsQuery, keep func(*payment) bool) []detailInfo {
	wantTx := map[txID]bool{}
	for _, id := range q.txIDs {
		wantTx[id] = true
	}
	wantOrder := map[string]bool{}
	for _, id := range q.orderIDs {
		wantOrder[id] = true
	}
	now := s.now()
	var out []detailInfo
	for _, p := range s.order {
		s.expireLapsed(p, now)
		if !p.confirmed() || !keep(p) {
			continue
		}
		if wantTx[p.txID] || wantOrder[p.orderID] {
			out = append(out, s.paymentDetail(p, q.fields))
		}
		for _, r := range p.refunds {
			if wantTx[r.id] {
				out = append(out, s.refundDetail(p, r))
			}
		}
	}
	return out
}

// details serves GET /v3/payments and GET /v4/payments: confirmed payments of either API
// (Online and Offline), 1150 when none matches, 1177 above 100.
func (s *Simulator) details(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveLookup(w, in, func(*payment) bool { return true })
}

// authorizations serves GET /v4/payments/authorizations: capture=false payments that are
// authorized, voided or expired.
func (s *Simulator) authorizations(w http.ResponseWriter, _ *http.Request, in request) {
	s.serveLookup(w, in, func(p *payment) bool {
		return !p.capture && (p.status == StatusAuthorized || p.status == StatusVoided || p.status == StatusExpired)
	})
}

func (s *Simulator) serveLookup(w http.ResponseWriter, in request, keep func(*payment) bool) {
	q, e := parseDetailsQuery(in.rawQuery)
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	rows := s.lookup(q, keep)
	s.mu.Unlock()
	switch {
	case len(rows) == 0:
		writeError(w, fail(codeNotFound))
	case len(rows) > maxDetails:
		writeError(w, fail(codeTooManyResults))
	default:
		writeInfo(w, rows)
	}
}
