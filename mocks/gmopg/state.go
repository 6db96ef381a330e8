package gmopg

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"time"
)

// Statuses as SearchTrade reports them (docs/partners/gmopg.md §2).
const (
	StatusUnprocessed   = "UNPROCESSED"
	StatusAuthenticated = "AUTHENTICATED"
	StatusCheck         = "CHECK"
	StatusCapture       = "CAPTURE"
	StatusAuth          = "AUTH"
	StatusSauth         = "SAUTH"
	StatusSales         = "SALES"
	StatusVoid          = "VOID"
	StatusReturn        = "RETURN"
	StatusReturnx       = "RETURNX"
)

// forward is the acquirer code the simulator reports (GMO's test value).
const forward = "2a99662"

// order is one transaction, from EntryTran on. Guarded by Simulator.mu.
type order struct {
	orderID, accessID, accessPass string
	entryJobCd                    string // JobCd of EntryTran
	status                        string
	amount, tax                   int64 // current amount (ChangeTran moves it)
	authorisedAmount              int64 // amount first authorised
	itemCode                      string
	tdFlag, tds2Type              string
	createdAt, processedAt        time.Time

	method, payTimes string
	card             Card
	approve, tranID  string
	tranAt           time.Time // TranDate of the op that made the current charge (VOID day)
	execAt           time.Time // first authorisation (180-day limit)
	authExpiresAt    time.Time // AUTH/SAUTH: capture by then
	clientFields     [3]string
	echoClientFields bool
	checkString      string
	tds              *challenge
	pending          *kind // the token outcome SecureTran2 applies
	inFlight         bool  // a slow request is still holding its answer
	ops              []LedgerOperation
	errors           []LedgerError
}

// LedgerOrder is one transaction as the simulator's ledger shows it (GET /_sim/orders,
// Simulator.Order). Amounts are whole yen.
type LedgerOrder struct {
	OrderID    string `json:"orderId"`
	AccessID   string `json:"accessId"`
	AccessPass string `json:"accessPass"`
	// Status is the SearchTrade status.
	Status string `json:"status"`
	// EntryJobCd is the JobCd of EntryTran (CHECK, CAPTURE, AUTH, SAUTH).
	EntryJobCd string `json:"entryJobCd"`
	// Amount is the current amount (after ChangeTran); AuthorisedAmount the amount of
	// the first authorisation (0 before). payhub reads a partial refund as
	// AuthorisedAmount − Amount.
	Amount           int64  `json:"amount"`
	Tax              int64  `json:"tax"`
	AuthorisedAmount int64  `json:"authorisedAmount"`
	TdFlag           string `json:"tdFlag,omitempty"`
	Tds2Type         string `json:"tds2Type,omitempty"`
	// ThreeDS is the 3DS challenge state: "", pending, approved, rejected, abandoned.
	ThreeDS string `json:"threeDS,omitempty"`
	Method  string `json:"method,omitempty"`
	// Card is the card of the executed token (never a full number).
	Card          *Card     `json:"card,omitempty"`
	TranID        string    `json:"tranId,omitempty"`
	Approve       string    `json:"approve,omitempty"`
	Forward       string    `json:"forward,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	ExecutedAt    time.Time `json:"executedAt,omitzero"`
	AuthExpiresAt time.Time `json:"authExpiresAt,omitzero"`
	// AuthExpired is true when an AUTH or SAUTH can no longer be captured.
	AuthExpired bool `json:"authExpired,omitempty"`
	// InFlight is true while a TokenSlow request holds its answer.
	InFlight bool `json:"inFlight,omitempty"`
	// Operations are the committed operations in order (EntryTran excluded).
	Operations []LedgerOperation `json:"operations"`
	// Errors are the business errors answered for this order's ExecTran and
	// SecureTran2 (declines, token and 3DS errors, committed 42C).
	Errors []LedgerError `json:"errors"`
}

// LedgerOperation is one committed value-moving call.
type LedgerOperation struct {
	// Call is ExecTran, SecureTran2, AlterTran or ChangeTran.
	Call string `json:"call"`
	// JobCd is the resulting kind (AUTH, CAPTURE, CHECK, SAUTH, SALES, VOID, RETURN,
	// RETURNX).
	JobCd   string    `json:"jobCd"`
	Amount  int64     `json:"amount"`
	TranID  string    `json:"tranId"`
	Approve string    `json:"approve"`
	At      time.Time `json:"at"`
	// Answered is false when the client got an error instead (TokenComms42C).
	Answered bool `json:"answered"`
}

// LedgerError is one error answered for an order.
type LedgerError struct {
	Call    string    `json:"call"`
	ErrCode string    `json:"errCode"`
	ErrInfo string    `json:"errInfo"`
	At      time.Time `json:"at"`
}

// ledger returns the order's LedgerOrder at now.
func (s *Simulator) ledger(o *order, now time.Time) LedgerOrder {
	lo := LedgerOrder{
		OrderID: o.orderID, AccessID: o.accessID, AccessPass: o.accessPass, Status: o.status,
		EntryJobCd: o.entryJobCd, Amount: o.amount, Tax: o.tax, AuthorisedAmount: o.authorisedAmount,
		TdFlag: o.tdFlag, Tds2Type: o.tds2Type, Method: o.method, TranID: o.tranID, Approve: o.approve,
		CreatedAt: o.createdAt, ExecutedAt: o.execAt, AuthExpiresAt: o.authExpiresAt,
		AuthExpired: s.authExpired(o, now), InFlight: o.inFlight,
		Operations: append([]LedgerOperation{}, o.ops...), Errors: append([]LedgerError{}, o.errors...),
	}
	if o.tds != nil {
		lo.ThreeDS = o.tds.state
	}
	if o.card.Last4 != "" {
		c := o.card
		lo.Card = &c
	}
	if o.tranID != "" {
		lo.Forward = forward
	}
	return lo
}

// authExpired reports whether an AUTH/SAUTH has lapsed at now.
func (s *Simulator) authExpired(o *order, now time.Time) bool {
	return (o.status == StatusAuth || o.status == StatusSauth) && !o.authExpiresAt.IsZero() && !now.Before(o.authExpiresAt)
}

// newAccessPair returns a fresh AccessID and AccessPass (32 hex each). Needs s.mu.
func (s *Simulator) newAccessPair() (string, string) {
	for {
		id := randomHex(16)
		if s.byAccess[id] == nil {
			return id, randomHex(16)
		}
	}
}

// newTranID returns an unused 28-digit TranID: yyMMddHHmm (local) and 18 random digits.
// Needs s.mu.
func (s *Simulator) newTranID(now time.Time) string {
	for {
		id := now.In(s.cfg.Location).Format("0601021504") + randomDigits(18)
		if !s.tranIDs[id] {
			s.tranIDs[id] = true
			return id
		}
	}
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

// tranDate formats t as TranDate/ProcessDate: yyyyMMddHHmmss in the simulator's zone.
func (s *Simulator) tranDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.cfg.Location).Format("20060102150405")
}

// CheckString is GMO's ExecTran check value: lower-case hex MD5 of OrderID, Forward,
// Method, PayTimes, Approve, TranID, TranDate and ShopPass concatenated
// (docs/partners/gmopg.md §3).
func CheckString(orderID, fwd, method, payTimes, approve, tranID, tranDate, shopPass string) string {
	sum := md5.Sum([]byte(orderID + fwd + method + payTimes + approve + tranID + tranDate + shopPass))
	return hex.EncodeToString(sum[:])
}
