package lab

import (
	"context"
	cryptorand "crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"payhub/contracts"
	nanacosim "payhub/mocks/nanaco"
)

// nanaco top-ups under the crash harness. A share of the tills' operations (--topup-share)
// loads value onto the seeded nanaco cards (POST /v1/nanaco/top-ups): in cash, ¥1,000 to
// ¥5,000 in ¥1,000 units, or from the card's points. The top-ups fill the seeded cards in
// order, crashNanacoTopUpsPerCard to a card, alongside the card's payments; the cards are
// seeded low enough that every top-up fits under the ¥50,000 cap whatever the payments did,
// with enough balance for the payments and enough points for the points top-ups. A till
// retries a top-up with the same Idempotency-Key like a payment; a share of the top-ups is
// cancelled the same day on the same till (POST …/cancel), after the till waited for an
// unknown one to settle.
//
// After the run the harness reads payhub's top-ups of its store from the database and
// matches them with NCS's CHARGEs — by the key (payhub's SequenceRef, also the CHARGE's
// merchantRef) and by the centerTxnId payhub shows as partner_reference: a succeeded
// top-up has exactly one standing CHARGE of its amount, a canceled one a CHARGE with its
// CHARGE_CANCEL, a failed one none; no CHARGE is without a payhub top-up, none is a second
// one for a top-up, and none is left open. Each card's value must have moved by what payhub
// took, refunded and topped up.

const (
	// crashNanacoTopUpsPerCard is how many top-ups share one seeded card.
	crashNanacoTopUpsPerCard = 4
	// crashTopUpCashMaxYen is the largest cash top-up (from ¥1,000, in ¥1,000 units):
	// crashNanacoTopUpsPerCard of them fit on a card over its seeded balance.
	crashTopUpCashMaxYen = 5_000
	// crashTopUpPointsMin and crashTopUpPointsMax bound a points top-up; a card is seeded
	// with points for crashNanacoTopUpsPerCard of the largest.
	crashTopUpPointsMin   = 100
	crashTopUpPointsMax   = 1_000
	crashNanacoCardPoints = crashNanacoTopUpsPerCard * crashTopUpPointsMax
	// crashTopUpPointsShare is the share of top-ups paid with the card's points, the rest
	// in cash; crashTopUpCancelShare the share the till cancels the same day;
	// crashTopUpIDmShare the share whose read carries the IDm as well as the number.
	crashTopUpPointsShare = 0.2
	crashTopUpCancelShare = 0.25
	crashTopUpIDmShare    = 0.5
	// crashTopUpSettleWait is how long a till that means to cancel a top-up answered
	// unknown polls it for its outcome before it lets the cancel go.
	crashTopUpSettleWait = 15 * time.Second
)

// topUpCount is the number of top-ups of a run: --topup-share of all its till operations
// (payments, refunds and top-ups).
func topUpCount(cfg crashConfig) int {
	if cfg.TopUpShare <= 0 || cfg.TopUpShare >= 1 {
		return 0
	}
	return int(math.Round(float64(cfg.Payments+cfg.Refunds) * cfg.TopUpShare / (1 - cfg.TopUpShare)))
}

// crashNanacoTopUpCard is the card of top-up n (from 1).
func crashNanacoTopUpCard(n int) crashNanacoCard {
	return crashNanacoCardAt((n - 1) / crashNanacoTopUpsPerCard)
}

// topUp draws top-up n from topUpRNG, in the order top-ups are issued, so top-up n is the
// same for a seed whatever the tills' timing. Needs p.mu.
func (p *loadPlan) topUp(n int) loadJob {
	r := p.topUpRNG
	cash := nanacosim.CashUnit * (1 + r.Int64N(crashTopUpCashMaxYen/nanacosim.CashUnit))
	points := crashTopUpPointsMin + r.Int64N(crashTopUpPointsMax-crashTopUpPointsMin+1)
	funding, cancel, idm := r.Float64(), r.Float64(), r.Float64()
	j := loadJob{n: n, topUp: true, amount: cash, funding: contracts.FundingCash, card: crashNanacoTopUpCard(n),
		cancel: cancel < crashTopUpCancelShare, withIDm: idm < crashTopUpIDmShare}
	if funding < crashTopUpPointsShare {
		j.amount, j.funding = points, contracts.FundingPoints
	}
	return j
}

// tillTopUp is what a till did about one top-up, kept by its create's Idempotency-Key.
type tillTopUp struct {
	Key      string
	Card     string
	Terminal string
	Amount   int64
	Funding  contracts.TopUpFunding
	// ID and Answer are from the create's definite answer (empty while none came).
	ID, Answer string
	// CancelSent: the till sent a cancel; CancelAnswer is its definite answer and
	// CancelAccepted whether payhub took it on (200 canceled, 202 cancel pending).
	CancelSent     bool
	CancelAnswer   string
	CancelAccepted bool
}

// topUpReport is what the tills did about top-ups, by the create's Idempotency-Key.
type topUpReport map[string]tillTopUp

// answered records the answer of a top-up request sent again during settlement
// (till.resend's callback).
func (r topUpReport) answered(req tillRequest, ans apiAnswer) {
	if req.topUpKey == "" {
		return
	}
	rec := r[req.topUpKey]
	if req.topUpCancel {
		rec.CancelAnswer, rec.CancelAccepted = describeAnswer(ans), topUpCancelAccepted(ans)
	} else if ans.status == http.StatusCreated {
		rec.ID, rec.Answer = ans.str("id"), describeAnswer(ans)
	} else {
		rec.Answer = describeAnswer(ans)
	}
	r[req.topUpKey] = rec
}

// topUpCancelAccepted reports whether payhub took a top-up's cancel on: 200 with the
// top-up canceled, or 202 (the partner's answer is awaited; payhub finishes it).
func topUpCancelAccepted(a apiAnswer) bool {
	return (a.status == http.StatusOK && a.str("status") == string(contracts.TopUpCanceled)) || a.status == http.StatusAccepted
}

func (s *loadStats) recordTopUp(rec tillTopUp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topUpRecs[rec.Key] = rec
}

// topUpReport returns a copy of what the tills did about top-ups.
func (s *loadStats) topUpReport() topUpReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := make(topUpReport, len(s.topUpRecs))
	for k, v := range s.topUpRecs {
		r[k] = v
	}
	return r
}

// topUp loads value onto a seeded card the customer holds to the till's reader, and
// cancels it the same day at the same till when the job says so.
func (t *till) topUp(ctx context.Context, worker int, j loadJob, stats *loadStats) {
	read := map[string]any{"number": j.card.Number}
	if j.withIDm {
		read["idm"] = j.card.IDm
	}
	terminal := fmt.Sprintf("till-%02d", worker)
	raw, err := json.Marshal(map[string]any{"presented_card": read, "terminal_id": terminal, "amount": j.amount,
		"currency": "JPY", "funding": j.funding})
	if err != nil {
		stats.note(err.Error())
		return
	}
	req := tillRequest{method: http.MethodPost, path: "/v1/nanaco/top-ups", key: cryptorand.Text(), body: raw}
	req.topUpKey = req.key
	rec := tillTopUp{Key: req.key, Card: j.card.Number, Terminal: terminal, Amount: j.amount, Funding: j.funding}
	stats.topUps.Add(1)
	if j.funding == contracts.FundingPoints {
		stats.topUpsPoints.Add(1)
	}
	stats.recordTopUp(rec) // before it is sent: settlement sends it again if no answer comes
	ans, err := t.sendRequest(ctx, req, stats)
	if err != nil {
		stats.note(err.Error())
		return
	}
	stats.answered("top-up", ans)
	rec.Answer = describeAnswer(ans)
	if ans.status == http.StatusCreated {
		rec.ID = ans.str("id")
	}
	stats.recordTopUp(rec)
	if !j.cancel || rec.ID == "" {
		return
	}
	status := contracts.TopUpStatus(ans.str("status"))
	if status == contracts.TopUpPending || status == contracts.TopUpUnknown {
		status = t.awaitTopUp(ctx, rec.ID, stats)
	}
	if status != contracts.TopUpSucceeded {
		return
	}
	creq := tillRequest{method: http.MethodPost, path: "/v1/nanaco/top-ups/" + rec.ID + "/cancel", key: cryptorand.Text(),
		topUpKey: rec.Key, topUpCancel: true}
	rec.CancelSent = true
	stats.topUpCancels.Add(1)
	stats.recordTopUp(rec)
	ans, err = t.sendRequest(ctx, creq, stats)
	if err != nil {
		stats.note(err.Error())
		return // sent again during settlement, which records its answer
	}
	stats.answered("top-up cancel", ans)
	rec.CancelAnswer, rec.CancelAccepted = describeAnswer(ans), topUpCancelAccepted(ans)
	stats.recordTopUp(rec)
}

// awaitTopUp polls a top-up whose outcome is open (GET asks the partner about an unknown
// one) until it is settled or crashTopUpSettleWait has passed; it returns the last status seen.
func (t *till) awaitTopUp(ctx context.Context, id string, stats *loadStats) contracts.TopUpStatus {
	deadline := time.Now().Add(crashTopUpSettleWait)
	status := contracts.TopUpUnknown
	for time.Now().Before(deadline) {
		if sleepCtx(ctx, 500*time.Millisecond) != nil {
			return status
		}
		ans, err := t.once(ctx, http.MethodGet, "/v1/nanaco/top-ups/"+id, "", nil)
		if err != nil || ans.status != http.StatusOK {
			stats.retries.Add(1)
			continue
		}
		status = contracts.TopUpStatus(ans.str("status"))
		if status != contracts.TopUpPending && status != contracts.TopUpUnknown {
			return status
		}
	}
	return status
}

// readTopUps reads payhub's top-ups of the run's store: their ids straight from the
// database (the API lists none), each then through the store.
func readTopUps(ctx context.Context, db *sql.DB, postgres bool, st contracts.Store, storeID string) ([]contracts.TopUp, error) {
	query := "SELECT id FROM top_ups WHERE store_id = ? ORDER BY id"
	if postgres {
		query = strings.Replace(query, "?", "$1", 1)
	}
	rows, err := db.QueryContext(ctx, query, storeID)
	if err != nil {
		return nil, fmt.Errorf("list top-ups: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list top-ups: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list top-ups: %w", err)
	}
	out := make([]contracts.TopUp, 0, len(ids))
	for _, id := range ids {
		t, err := st.GetTopUp(ctx, storeID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// topUpOpen reports whether a top-up's outcome, or its cancel's, is still open.
func topUpOpen(t contracts.TopUp) bool {
	return t.Status == contracts.TopUpPending || t.Status == contracts.TopUpUnknown || t.CancelStartedAt != nil
}

func countOpenTopUps(tops []contracts.TopUp) int {
	n := 0
	for _, t := range tops {
		if topUpOpen(t) {
			n++
		}
	}
	return n
}

// payhubTopUps is payhub's top-ups of the run, and what the tills did about them.
type payhubTopUps struct {
	TopUps []contracts.TopUp
	// Till is by the create's Idempotency-Key.
	Till topUpReport
}

// chargeStanding reports whether a CHARGE's value is still credited (not cancelled).
func chargeStanding(e nanacosim.LedgerEntry) bool { return e.Status != nanacosim.StatusCancelled }

// describeCharges lists CHARGEs for a report.
func describeCharges(es []nanacosim.LedgerEntry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%s (%s) ¥%d %s", e.CenterTxnID, nanacoKey(e), e.Amount, e.Status))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ncsFunding is payhub's funding as NCS's fundingSource.
func ncsFunding(f contracts.TopUpFunding) string { return strings.ToUpper(string(f)) }

// checkTopUps reconciles payhub's top-ups with NCS's CHARGEs and CHARGE_CANCELs (see the
// top of this file), and checks that payhub honoured every top-up cancel it accepted.
func (c *crashCounts) checkTopUps(tops payhubTopUps, ledger []nanacosim.LedgerEntry) {
	byRef, byTxn := map[string]int{}, map[string]int{}
	for i, t := range tops.TopUps {
		byRef[t.PartnerRef] = i
		if t.PartnerTxnID != "" {
			byTxn[t.PartnerTxnID] = i
		}
	}
	cancelOf := map[string]nanacosim.LedgerEntry{} // CHARGE's centerTxnId → its CHARGE_CANCEL
	for _, e := range ledger {
		if e.Type == nanacosim.TypeChargeCancel {
			cancelOf[e.OriginalTxnID] = e
		}
	}
	claimed := map[int][]nanacosim.LedgerEntry{}
	for _, e := range ledger {
		if e.Type != nanacosim.TypeCharge {
			continue
		}
		var who []int
		for _, m := range []struct {
			idx map[string]int
			v   string
		}{{byRef, nanacoKey(e)}, {byRef, e.MerchantRef}, {byTxn, e.CenterTxnID}} {
			if i, ok := m.idx[m.v]; ok && m.v != "" && !slices.Contains(who, i) {
				who = append(who, i)
			}
		}
		switch {
		case len(who) == 0 && chargeStanding(e):
			c.problem(&c.Lost, "nanaco CHARGE %s (%s) of ¥%d on card %s: payhub has no top-up for it", e.CenterTxnID, nanacoKey(e), e.Amount, e.NanacoNumber)
			continue
		case len(who) == 0:
			c.problem(&c.Mismatches, "nanaco CHARGE %s (%s) of ¥%d, cancelled: payhub has no top-up for it", e.CenterTxnID, nanacoKey(e), e.Amount)
			continue
		case len(who) > 1:
			var ids []string
			for _, i := range who {
				ids = append(ids, tops.TopUps[i].ID)
			}
			c.problem(&c.Mismatches, "nanaco CHARGE %s (%s, merchantRef %s): its key, merchantRef and centerTxnId name top-ups %s", e.CenterTxnID, nanacoKey(e), e.MerchantRef, strings.Join(ids, ", "))
		}
		claimed[who[0]] = append(claimed[who[0]], e)
	}
	answered := map[string]bool{} // top-up ids the tills got in an answer
	for _, tt := range tops.Till {
		if tt.ID != "" {
			answered[tt.ID] = true
		}
	}
	known := map[string]bool{}
	for i, t := range tops.TopUps {
		known[t.ID] = true
		c.TopUpsCreated++
		if t.Status == contracts.TopUpCanceled {
			c.TopUpsCanceled++
		}
		tt, sent := tops.Till[t.IdempotencyKey]
		switch {
		case !sent:
			c.problem(&c.Mismatches, "top-up %s: under Idempotency-Key %q, which no till sent", t.ID, t.IdempotencyKey)
		case tt.ID != "" && tt.ID != t.ID:
			c.problem(&c.Mismatches, "top-up %s: its till's request (%s) was answered with %s", t.ID, tt.Key, tt.ID)
		case tt.Answer != "" && !answered[t.ID]:
			c.problem(&c.Mismatches, "top-up %s: its till's request was answered %s, without it", t.ID, tt.Answer)
		case sent && (tt.Amount != t.Amount.Amount || tt.Funding != t.Funding || tt.Terminal != t.TerminalID || !strings.HasSuffix(tt.Card, t.CardLast4)):
			c.problem(&c.Mismatches, "top-up %s: payhub has ¥%d %s at %s on …%s, the till asked ¥%d %s at %s on %s",
				t.ID, t.Amount.Amount, t.Funding, t.TerminalID, t.CardLast4, tt.Amount, tt.Funding, tt.Terminal, tt.Card)
		}
		es := claimed[i]
		if len(es) > 1 {
			c.problem(&c.TopUpsDuplicated, "top-up %s (%s, ¥%d): %d CHARGEs: %s", t.ID, t.PartnerRef, t.Amount.Amount, len(es), describeCharges(es))
		}
		var standing []nanacosim.LedgerEntry
		for _, e := range es {
			if chargeStanding(e) {
				standing = append(standing, e)
			}
		}
		if tt.CancelAccepted {
			var why []string
			if t.Status != contracts.TopUpCanceled {
				why = append(why, "payhub "+string(t.Status))
			}
			for _, e := range standing {
				why = append(why, fmt.Sprintf("CHARGE %s of ¥%d stands", e.CenterTxnID, e.Amount))
			}
			if len(why) > 0 {
				c.problem(&c.CancelKept, "top-up %s: cancel accepted (%s) but the value kept: %s", t.ID, tt.CancelAnswer, strings.Join(why, "; "))
			}
		}
		if topUpOpen(t) {
			what := string(t.Status)
			if t.CancelStartedAt != nil {
				what += ", its cancel pending"
			}
			c.problem(&c.Unresolved, "top-up %s (%s): still %s; NCS: %s", t.ID, t.PartnerRef, what, describeCharges(es))
			continue
		}
		switch t.Status {
		case contracts.TopUpSucceeded:
			if len(standing) == 0 {
				c.problem(&c.Lost, "top-up %s (%s): payhub succeeded ¥%d, NCS credited nothing (CHARGEs: %s)", t.ID, t.PartnerRef, t.Amount.Amount, describeCharges(es))
				continue
			}
			e := standing[0]
			if int64(e.Amount) != t.Amount.Amount || int64(e.RequestedAmount) != t.Amount.Amount {
				c.problem(&c.Mismatches, "top-up %s: payhub ¥%d, NCS CHARGE %s ¥%d (asked ¥%d)", t.ID, t.Amount.Amount, e.CenterTxnID, e.Amount, e.RequestedAmount)
			}
			if t.PartnerTxnID != e.CenterTxnID {
				c.problem(&c.Mismatches, "top-up %s: partner_reference %q, its NCS CHARGE is %s (%s)", t.ID, t.PartnerTxnID, e.CenterTxnID, nanacoKey(e))
			}
			if e.FundingSource != ncsFunding(t.Funding) {
				c.problem(&c.Mismatches, "top-up %s: payhub %s, NCS CHARGE %s funded by %s", t.ID, t.Funding, e.CenterTxnID, e.FundingSource)
			}
		case contracts.TopUpCanceled:
			switch {
			case len(standing) > 0 && !tt.CancelAccepted:
				c.problem(&c.Mismatches, "top-up %s: payhub canceled, NCS CHARGE %s of ¥%d stands", t.ID, standing[0].CenterTxnID, standing[0].Amount)
			case len(standing) > 0: // counted as a cancel kept above
			case len(es) == 0:
				c.problem(&c.Mismatches, "top-up %s (%s): payhub canceled, NCS has no CHARGE for it", t.ID, t.PartnerRef)
			default:
				if _, ok := cancelOf[es[0].CenterTxnID]; !ok {
					c.problem(&c.Mismatches, "top-up %s: NCS CHARGE %s is %s without a CHARGE_CANCEL", t.ID, es[0].CenterTxnID, es[0].Status)
				}
			}
		case contracts.TopUpFailed:
			for _, e := range standing {
				c.problem(&c.Mismatches, "top-up %s: payhub failed (%s), NCS CHARGE %s credited ¥%d", t.ID, t.FailureCode, e.CenterTxnID, e.Amount)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(tops.Till)) {
		if tt := tops.Till[key]; tt.ID != "" && !known[tt.ID] {
			c.problem(&c.Mismatches, "top-up %s: the till was answered with it (%s), payhub has no such top-up", tt.ID, tt.Answer)
		}
	}
}

// openReader opens a reader of the run's database (dbURL as store.Open takes it), for the
// queries no store call makes.
func openReader(dbURL string) (*sql.DB, error) {
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		return sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(15000)")
	}
	return sql.Open("pgx", dbURL)
}
