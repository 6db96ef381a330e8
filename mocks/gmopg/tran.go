package gmopg

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"
)

// checkShop validates ShopID/ShopPass. Optional (ExecTran) means both may be absent.
func (s *Simulator) checkShop(f form, optional bool) []string {
	id, pass := f["ShopID"], f["ShopPass"]
	if optional && id == "" && pass == "" {
		return nil
	}
	var errs []string
	if id == "" {
		errs = append(errs, infoNoShopID)
	}
	if pass == "" {
		errs = append(errs, infoNoShopPass)
	}
	if len(errs) > 0 {
		return errs
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ShopID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.ShopPass)) != 1 {
		return []string{infoBadShop}
	}
	return nil
}

// checkAccessFields validates the format of AccessID and AccessPass (32 hex each).
func checkAccessFields(f form) []string {
	var errs []string
	switch id := f["AccessID"]; {
	case id == "":
		errs = append(errs, infoNoAccessID)
	case !isHex32(id):
		errs = append(errs, infoBadAccessID)
	}
	switch pass := f["AccessPass"]; {
	case pass == "":
		errs = append(errs, infoNoAccessPass)
	case !isHex32(pass):
		errs = append(errs, infoBadAccessPass)
	}
	return errs
}

func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// validOrderID reports whether id is ≤ 27 characters of [A-Za-z0-9-].
func validOrderID(id string) bool {
	if len(id) == 0 || len(id) > 27 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseYen reads a whole-yen field: digits only, at most 7 of them. It returns the
// value and the ErrInfo for "too many digits" or "not a number" (digitsInfo, nanInfo).
func parseYen(v, digitsInfo, nanInfo string) (int64, string) {
	if v == "" {
		return 0, nanInfo
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, nanInfo
		}
	}
	if len(v) > 7 {
		return 0, digitsInfo
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n, ""
}

// parseAmounts reads Amount (required and > 0 when required) and the optional Tax.
func parseAmounts(f form, required bool) (amount, tax int64, errs []string) {
	if required {
		if v := f["Amount"]; v == "" {
			errs = append(errs, infoNoAmount)
		} else if n, e := parseYen(v, infoAmountDigits, infoAmountNotNumber); e != "" {
			errs = append(errs, e)
		} else if n == 0 {
			errs = append(errs, infoAmountNotNumber)
		} else {
			amount = n
		}
	}
	if v := f["Tax"]; v != "" {
		if n, e := parseYen(v, infoTaxDigits, infoTaxNotNumber); e != "" {
			errs = append(errs, e)
		} else {
			tax = n
		}
	}
	if len(errs) == 0 && amount+tax > 9999999 {
		errs = append(errs, infoAmountRange)
	}
	return amount, tax, errs
}

// recordError notes an answered error on the order. Needs s.mu.
func (s *Simulator) recordError(o *order, call, info string, now time.Time) {
	o.errors = append(o.errors, LedgerError{Call: call, ErrCode: errCodeOf(info), ErrInfo: info, At: now})
}

// entryTran serves EntryTran.idPass: registers the order, UNPROCESSED.
func (s *Simulator) entryTran(w http.ResponseWriter, _ *http.Request, f form) {
	errs := s.checkShop(f, false)
	orderID := f["OrderID"]
	switch {
	case orderID == "":
		errs = append(errs, infoNoOrderID)
	case !validOrderID(orderID):
		errs = append(errs, infoBadOrderID)
	}
	jobCd := f["JobCd"]
	switch jobCd {
	case "":
		errs = append(errs, infoNoJobCd)
	case StatusCheck, StatusCapture, StatusAuth, StatusSauth:
	default:
		errs = append(errs, infoBadJobCd)
	}
	amount, tax, amountErrs := parseAmounts(f, jobCd != StatusCheck)
	errs = append(errs, amountErrs...)
	tdFlag := f["TdFlag"]
	switch tdFlag {
	case "", "0", "2":
	default: // 1 is 3DS1, retired
		errs = append(errs, infoBadTdFlag)
	}
	switch {
	case s.cfg.Require3DS && tdFlag != "2":
		errs = append(errs, info3DSRequired)
	case !s.cfg.Require3DS && s.cfg.No3DSContract && tdFlag == "2":
		errs = append(errs, infoNo3DSContract)
	}
	if len(errs) > 0 {
		writeErrors(w, errs...)
		return
	}
	itemCode := f["ItemCode"]
	if itemCode == "" {
		itemCode = "0000990"
	}
	s.mu.Lock()
	if s.byOrder[orderID] != nil {
		s.mu.Unlock()
		writeErrors(w, infoDuplicateOrder)
		return
	}
	now := s.now()
	id, pass := s.newAccessPair()
	o := &order{
		orderID: orderID, accessID: id, accessPass: pass, entryJobCd: jobCd, status: StatusUnprocessed,
		amount: amount, tax: tax, itemCode: itemCode, tdFlag: tdFlag, tds2Type: f["Tds2Type"],
		createdAt: now, processedAt: now,
	}
	if jobCd == StatusCheck {
		o.amount, o.tax = 0, 0
	}
	s.byOrder[orderID], s.byAccess[id] = o, o
	s.orders = append(s.orders, o)
	s.mu.Unlock()
	writeKV(w, []field{{"AccessID", id}, {"AccessPass", pass}})
}

// lookup finds the order of AccessID/AccessPass. Needs s.mu.
func (s *Simulator) lookup(f form) *order {
	o := s.byAccess[f["AccessID"]]
	if o == nil || subtle.ConstantTimeCompare([]byte(o.accessPass), []byte(f["AccessPass"])) != 1 {
		return nil
	}
	return o
}

// execTran serves ExecTran.idPass: authorises with a token (ACS=0) or starts 3DS2 (ACS=2).
func (s *Simulator) execTran(w http.ResponseWriter, r *http.Request, f form) {
	errs := append(s.checkShop(f, true), checkAccessFields(f)...)
	if f["OrderID"] == "" {
		errs = append(errs, infoNoOrderID)
	}
	if len(errs) > 0 {
		writeErrors(w, errs...)
		return
	}
	s.mu.Lock()
	o := s.lookup(f)
	now := s.now()
	fail := func(info string, record bool) {
		if record {
			s.recordError(o, "ExecTran", info, now)
		}
		s.mu.Unlock()
		writeErrors(w, info)
	}
	switch {
	case o == nil || o.orderID != f["OrderID"]:
		o = nil
		fail(infoUnknownAccess, false)
		return
	case o.inFlight:
		fail(infoInFlight, true)
		return
	case o.status != StatusUnprocessed:
		fail(infoAlreadySettled, true)
		return
	case f["CardNo"] != "":
		fail(infoCardNoRefused, true)
		return
	}
	method, payTimes := "", ""
	if o.entryJobCd != StatusCheck {
		method = f["Method"]
		var merrs []string
		switch method {
		case "":
			merrs = append(merrs, infoNoMethod)
		case "1", "3", "4":
		case "2", "5":
			payTimes = f["PayTimes"]
			if _, e := parseYen(payTimes, infoPayTimesDigits, infoPayTimesNumber); payTimes == "" {
				merrs = append(merrs, infoNoPayTimes)
			} else if e != "" || len(payTimes) > 2 {
				if e == "" {
					e = infoPayTimesDigits
				}
				merrs = append(merrs, e)
			}
		default:
			merrs = append(merrs, infoBadMethodValue)
		}
		if len(merrs) > 0 {
			s.mu.Unlock()
			writeErrors(w, merrs...)
			return
		}
	}
	k, minted, tokErr := s.resolveToken(f["Token"], now)
	if tokErr != "" {
		fail(tokErr, true)
		return
	}
	if k.rateLimited {
		fail(infoRateLimited, true)
		return
	}
	threeDS := o.tdFlag == "2" || k.tds != tdsNone
	if threeDS && f["RetUrl"] == "" {
		fail(info3DSNoRetURL, true)
		return
	}
	if minted != nil {
		minted.used = true
	}
	o.method, o.payTimes, o.card, o.processedAt = method, payTimes, k.card, now
	o.clientFields = [3]string{f["ClientField1"], f["ClientField2"], f["ClientField3"]}
	o.echoClientFields = f["ClientFieldFlag"] == "1"
	if threeDS {
		ch := s.newChallenge(o, f["RetUrl"], f["CallbackType"], k.tds != tdsChallenge)
		o.status, o.tds, o.pending = StatusAuthenticated, ch, &k
		redirect := s.publicURL(r) + challengePath + "?transId=" + ch.transID + "&t=" + ch.secret
		s.mu.Unlock()
		writeKV(w, []field{{"ACS", "2"}, {"RedirectUrl", redirect}})
		return
	}
	s.authoriseAndAnswer(w, r, o, k, "ExecTran", now, true)
}

// authoriseAndAnswer applies token outcome k to o (UNPROCESSED or AUTHENTICATED) and
// answers: a decline or an uncommitted comms failure leaves the order UNPROCESSED; success,
// TokenComms42C and TokenSlow commit (status per EntryTran's JobCd). Called with s.mu
// held; releases it.
func (s *Simulator) authoriseAndAnswer(w http.ResponseWriter, r *http.Request, o *order, k kind, call string, now time.Time, withACS bool) {
	o.pending = nil
	if k.decline != "" || (k.comms && !k.commsCommit) {
		info := k.decline
		if info == "" {
			info = infoComms
		}
		o.status = StatusUnprocessed
		s.recordError(o, call, info, now)
		s.mu.Unlock()
		writeErrors(w, info)
		return
	}
	s.settle(o, call, now, !k.comms)
	if k.comms {
		s.recordError(o, call, infoComms, now)
		s.mu.Unlock()
		writeErrors(w, infoComms)
		return
	}
	fields := s.execFields(o, withACS)
	if !k.slow {
		s.mu.Unlock()
		writeKV(w, fields)
		return
	}
	// TokenSlow: committed; hold the answer past the client's timeout (GMO finishes the
	// work whatever the client does).
	o.inFlight = true
	s.mu.Unlock()
	err := s.sleep(r.Context(), s.cfg.SlowDelay)
	s.mu.Lock()
	o.inFlight = false
	s.mu.Unlock()
	if err == nil {
		writeKV(w, fields)
	}
}

// settle commits the authorisation of o at now. Needs s.mu.
func (s *Simulator) settle(o *order, call string, now time.Time, answered bool) {
	o.status = o.entryJobCd
	o.tranID, o.approve = s.newTranID(now), randomDigits(7)
	o.tranAt, o.execAt, o.processedAt = now, now, now
	o.authorisedAmount = o.amount
	if o.status == StatusAuth || o.status == StatusSauth {
		o.authExpiresAt = now.Add(s.cfg.AuthValidity)
	}
	o.checkString = CheckString(o.orderID, forward, o.method, o.payTimes, o.approve, o.tranID, s.tranDate(o.tranAt), s.cfg.ShopPass)
	o.ops = append(o.ops, LedgerOperation{Call: call, JobCd: o.status, Amount: o.amount, TranID: o.tranID, Approve: o.approve, At: now, Answered: answered})
}

// execFields is the success answer of ExecTran (withACS) and SecureTran2. Needs s.mu.
func (s *Simulator) execFields(o *order, withACS bool) []field {
	var out []field
	if withACS {
		out = append(out, field{"ACS", "0"})
	}
	out = append(out,
		field{"OrderID", o.orderID}, field{"Forward", forward}, field{"Method", o.method},
		field{"PayTimes", o.payTimes}, field{"Approve", o.approve}, field{"TranID", o.tranID},
		field{"TranDate", s.tranDate(o.tranAt)}, field{"CheckString", o.checkString})
	if o.echoClientFields {
		out = append(out, field{"ClientField1", o.clientFields[0]}, field{"ClientField2", o.clientFields[1]},
			field{"ClientField3", o.clientFields[2]})
	}
	return out
}

// secureTran2 serves SecureTran2.idPass: authorises after the 3DS2 flow.
func (s *Simulator) secureTran2(w http.ResponseWriter, r *http.Request, f form) {
	if errs := checkAccessFields(f); len(errs) > 0 {
		writeErrors(w, errs...)
		return
	}
	s.mu.Lock()
	o := s.lookup(f)
	now := s.now()
	fail := func(info string) {
		if o != nil {
			s.recordError(o, "SecureTran2", info, now)
		}
		s.mu.Unlock()
		writeErrors(w, info)
	}
	switch {
	case o == nil:
		fail(infoUnknownAccess)
		return
	case o.inFlight:
		fail(infoInFlight)
		return
	case o.status == StatusUnprocessed:
		fail(infoNotExecuted)
		return
	case o.status != StatusAuthenticated:
		fail(infoAlreadySettled)
		return
	}
	switch o.tds.state {
	case tdsStateRejected:
		fail(info3DSFailed)
		return
	case tdsStateApproved:
	default: // pending or abandoned: the flow never came back
		fail(info3DSIncomplete)
		return
	}
	k := *o.pending
	s.authoriseAndAnswer(w, r, o, k, "SecureTran2", now, false)
}

// alterFields is the answer of AlterTran and ChangeTran. Needs s.mu.
func (s *Simulator) alterFields(o *order) []field {
	return []field{{"AccessID", o.accessID}, {"AccessPass", o.accessPass}, {"Forward", forward},
		{"Approve", o.approve}, {"TranID", o.tranID}, {"TranDate", s.tranDate(o.tranAt)}}
}

// charged reports whether o holds a charge that AlterTran/ChangeTran can act on.
func charged(status string) bool {
	switch status {
	case StatusAuth, StatusSauth, StatusCapture, StatusSales:
		return true
	}
	return false
}

// sameDay reports whether a and b fall on the same date in the simulator's zone.
func (s *Simulator) sameDay(a, b time.Time) bool {
	ya, ma, da := a.In(s.cfg.Location).Date()
	yb, mb, db := b.In(s.cfg.Location).Date()
	return ya == yb && ma == mb && da == db
}

// alterTran serves AlterTran.idPass: SALES, VOID, RETURN, RETURNX.
func (s *Simulator) alterTran(w http.ResponseWriter, _ *http.Request, f form) {
	errs := append(s.checkShop(f, false), checkAccessFields(f)...)
	jobCd := f["JobCd"]
	switch jobCd {
	case "":
		errs = append(errs, infoNoJobCd)
	case StatusSales, StatusVoid, StatusReturn, StatusReturnx:
	default:
		errs = append(errs, infoBadJobCd)
	}
	var amount int64
	if jobCd == StatusSales {
		var aerrs []string
		amount, _, aerrs = parseAmounts(f, true)
		errs = append(errs, aerrs...)
	}
	if len(errs) > 0 {
		writeErrors(w, errs...)
		return
	}
	s.mu.Lock()
	now := s.now()
	o, refused := s.changeable(f, now)
	fail := func(info string) {
		s.mu.Unlock()
		writeErrors(w, info)
	}
	if refused != "" {
		fail(refused)
		return
	}
	switch jobCd {
	case StatusSales:
		switch {
		case o.status != StatusAuth && o.status != StatusSauth:
			fail(infoStateNotAllowed)
			return
		case s.authExpired(o, now):
			fail(infoAuthExpired)
			return
		case amount != o.amount:
			fail(infoAmountMismatch)
			return
		}
	case StatusVoid:
		if !s.sameDay(now, o.tranAt) {
			fail(infoStateNotAllowed)
			return
		}
	}
	o.status, o.processedAt, o.tranAt = jobCd, now, now
	o.tranID = s.newTranID(now)
	o.ops = append(o.ops, LedgerOperation{Call: "AlterTran", JobCd: jobCd, Amount: o.amount, TranID: o.tranID, Approve: o.approve, At: now, Answered: true})
	fields := s.alterFields(o)
	s.mu.Unlock()
	writeKV(w, fields)
}

// changeTran serves ChangeTran.idPass: a new amount in the same family (AUTH|SAUTH
// stays an authorisation, CAPTURE|SALES becomes CAPTURE), as a void plus re-authorisation.
func (s *Simulator) changeTran(w http.ResponseWriter, _ *http.Request, f form) {
	errs := append(s.checkShop(f, false), checkAccessFields(f)...)
	jobCd := f["JobCd"]
	switch jobCd {
	case "":
		errs = append(errs, infoNoJobCd)
	case StatusAuth, StatusCapture, StatusSauth:
	default:
		errs = append(errs, infoBadJobCd)
	}
	amount, tax, aerrs := parseAmounts(f, true)
	errs = append(errs, aerrs...)
	if len(errs) > 0 {
		writeErrors(w, errs...)
		return
	}
	s.mu.Lock()
	now := s.now()
	o, refused := s.changeable(f, now)
	fail := func(info string) {
		s.mu.Unlock()
		writeErrors(w, info)
	}
	if refused != "" {
		fail(refused)
		return
	}
	authFamily := o.status == StatusAuth || o.status == StatusSauth
	if authFamily != (jobCd == StatusAuth || jobCd == StatusSauth) {
		fail(infoStateNotAllowed)
		return
	}
	if s.authExpired(o, now) {
		fail(infoAuthExpired)
		return
	}
	o.status, o.amount, o.tax, o.processedAt, o.tranAt = jobCd, amount, tax, now, now
	o.tranID, o.approve = s.newTranID(now), randomDigits(7)
	if authFamily {
		o.authExpiresAt = now.Add(s.cfg.AuthValidity)
	}
	o.ops = append(o.ops, LedgerOperation{Call: "ChangeTran", JobCd: jobCd, Amount: amount, TranID: o.tranID, Approve: o.approve, At: now, Answered: true})
	fields := s.alterFields(o)
	s.mu.Unlock()
	writeKV(w, fields)
}

// searchTrade serves SearchTrade.idPass: the order by OrderID.
func (s *Simulator) searchTrade(w http.ResponseWriter, _ *http.Request, f form) {
	errs := s.checkShop(f, false)
	if f["OrderID"] == "" {
		errs = append(errs, infoNoOrderID)
	}
	if len(errs) > 0 {
		writeErrors(w, errs...)
		return
	}
	s.mu.Lock()
	o := s.byOrder[f["OrderID"]]
	if o == nil {
		s.mu.Unlock()
		writeErrors(w, infoUnknownAccess)
		return
	}
	jobCd := o.status
	if jobCd == StatusUnprocessed || jobCd == StatusAuthenticated {
		jobCd = o.entryJobCd
	}
	fields := []field{
		{"OrderID", o.orderID}, {"Status", o.status}, {"ProcessDate", s.tranDate(o.processedAt)},
		{"JobCd", jobCd}, {"AccessID", o.accessID}, {"AccessPass", o.accessPass}, {"ItemCode", o.itemCode},
		{"Amount", strconv.FormatInt(o.amount, 10)}, {"Tax", strconv.FormatInt(o.tax, 10)},
		{"SiteID", ""}, {"MemberID", ""}, {"CardNo", o.card.masked()}, {"Expire", o.card.Expire},
		{"Method", o.method}, {"PayTimes", o.payTimes}, {"Forward", ""}, {"TranID", o.tranID},
		{"Approve", o.approve}, {"ClientField1", o.clientFields[0]}, {"ClientField2", o.clientFields[1]},
		{"ClientField3", o.clientFields[2]},
	}
	if o.tranID != "" {
		fields[15].value = forward
	}
	s.mu.Unlock()
	writeKV(w, fields)
}

// changeable finds the order an AlterTran or ChangeTran names and checks that it may be
// changed now: it exists, no call on it is in flight, it was executed and charged, and it
// is younger than ChangeWindow. Otherwise it returns the ErrInfo that refuses the call.
// Needs s.mu.
func (s *Simulator) changeable(f form, now time.Time) (*order, string) {
	o := s.lookup(f)
	switch {
	case o == nil:
		return nil, infoUnknownAccess
	case o.inFlight:
		return o, infoLocked
	case o.status == StatusUnprocessed || o.status == StatusAuthenticated:
		return o, infoNotExecuted
	case !charged(o.status):
		return o, infoStateNotAllowed
	case now.Sub(o.execAt) > ChangeWindow:
		return o, infoTooOld
	}
	return o, ""
}
