// Package gmopg is payhub's GMO Payment Gateway simulator: an independent implementation of
// GMO-PG's form-based protocol-type API (/payment/<Name>.idPass) as written in
// docs/partners/gmopg.md. It owns one shop's state — orders, minted card tokens, 3DS2
// flows — in memory and serves it as an http.Handler (`payhub sim` puts it on
// 127.0.0.1:7103). Store developers use it like GMO's test host; the gmopg npm client 6.0.0
// runs against it unchanged (tests/npm/gmopg).
//
// # Wire behaviour (§1)
//
// Calls: POST /payment/EntryTran.idPass, ExecTran.idPass, SecureTran2.idPass,
// AlterTran.idPass, ChangeTran.idPass, SearchTrade.idPass. Every business answer, errors
// included, is HTTP 200 with Content-Type "text/plain;charset=Windows-31J" and a body
// Key=Value&Key=Value in Shift_JIS (Windows-31J): values are not URL-encoded, keys are
// present when empty (PayTimes=&Approve=). Errors are ErrCode and ErrInfo as |-joined lists
// that pair by position (ErrCode=E01|E01&ErrInfo=E01090008|E01100008); input checks report
// every failing field at once. ErrCode is derived from ErrInfo: E01040010 → E01,
// 42G020000 → G02, 42C010000 → C01, EX1000302 → EX1. Unknown paths answer HTTP 404.
//
// Requests: another method than POST → E31500014; a Content-Type other than
// application/x-www-form-urlencoded → E00000002; an Accept header that allows neither
// text/plain, text/* nor */* → E00000003 (which of the two codes is which is payhub's
// reading; a missing Accept and gmopg's "application/json, text/plain, */*" pass). Bodies
// are parsed both ways a client sends them: split on '&' and each part on
// its first '='; a key or value is percent-decoded only when every '%' in it is a valid
// escape; '+' is a space only in a body that has percent escapes (raw bodies, as gmopg's
// qs.stringify(…, {encode:false}) sends, keep '+'); decoded bytes that are not UTF-8 are
// read as Shift_JIS. ParseResponse parses answers the way the adapter must (Shift_JIS,
// first '=', unknown keys glued back with '&', so RedirectUrl keeps its "&t=").
//
// Credentials: ShopID/ShopPass (Config; default DemoShopID "tshop00000001", DemoShopPass
// "demo-pass") are required on EntryTran, AlterTran, ChangeTran and SearchTrade
// (E01010001/E01020001 missing, E01030002 wrong) and optional on ExecTran (checked when
// sent). SecureTran2 takes only AccessID/AccessPass.
//
// # Transactions (§2, §3)
//
//	EntryTran                                   → UNPROCESSED; AccessID, AccessPass (32 hex)
//	ExecTran (Token), no 3DS                    → CHECK | CAPTURE | AUTH | SAUTH (EntryTran's JobCd), ACS=0
//	ExecTran, TdFlag=2 or a 3DS token, RetUrl   → AUTHENTICATED, ACS=2&RedirectUrl=…/tds2/challenge?transId=…&t=…
//	SecureTran2 after an approved challenge     → CHECK | CAPTURE | AUTH | SAUTH
//	AlterTran SALES (Amount = current amount)   AUTH | SAUTH → SALES
//	AlterTran VOID                              AUTH | SAUTH | CAPTURE | SALES → VOID, only on the JST date of
//	                                            the last charge-making call (ExecTran/SecureTran2, SALES, ChangeTran)
//	AlterTran RETURN | RETURNX                  AUTH | SAUTH | CAPTURE | SALES → RETURN | RETURNX, any day
//	ChangeTran AUTH | SAUTH (Amount)            AUTH | SAUTH → the JobCd, new amount, authorisation renewed
//	ChangeTran CAPTURE (Amount)                 CAPTURE | SALES → CAPTURE, new amount
//	SearchTrade (OrderID)                       the order, from EntryTran on
//
// Every ExecTran, SecureTran2, AlterTran and ChangeTran success gets a fresh 28-digit TranID
// (yyMMddHHmm in JST, then 18 random digits); ExecTran/SecureTran2 and ChangeTran a fresh
// 7-digit Approve (AlterTran keeps it); Forward is always 2a99662. TranDate and ProcessDate
// are yyyyMMddHHmmss in Config.Location (JST). ExecTran and SecureTran2 answer OrderID,
// Forward, Method, PayTimes, Approve, TranID, TranDate, CheckString (CheckString: lower-case
// hex MD5 of OrderID+Forward+Method+PayTimes+Approve+TranID+TranDate+ShopPass), and
// ClientField1..3 when ClientFieldFlag=1. AlterTran and ChangeTran answer AccessID,
// AccessPass, Forward, Approve, TranID, TranDate. SearchTrade answers OrderID, Status,
// ProcessDate, JobCd (EntryTran's until executed, then the status), AccessID, AccessPass,
// ItemCode (default 0000990), Amount, Tax, SiteID, MemberID (empty), CardNo masked
// (************1111; AMEX 11 stars, DINERS 10), Expire (YYMM), Method, PayTimes, Forward,
// TranID, Approve, ClientField1..3. Card numbers are never received or stored: only the
// token's brand, last four and expiry.
//
// Rules enforced (ErrInfo):
//
//	E01040001 no OrderID              E01040013 OrderID over 27 chars or outside [A-Za-z0-9-]
//	E01040010 OrderID already used    E01050001/E01050002 JobCd missing/not allowed for the call
//	                                  (CANCEL is refused: unconfirmed at GMO)
//	E01060001 Amount missing          E01060005 over 7 digits; E01060006 not a whole number > 0
//	E01070005/E01070006 Tax           E01490005 Amount + Tax over 9,999,999
//	E01080007 TdFlag not 0/2          E01080101 Config.Require3DS and TdFlag ≠ 2
//	E01080010 TdFlag=2 with Config.No3DSContract
//	E01090001/E01090008, E01100001/E01100008 AccessID/AccessPass missing or not 32 hex
//	E01110002 unknown AccessID/AccessPass (or ExecTran's OrderID not theirs; SearchTrade's unknown OrderID)
//	E01260001/E01260002 Method missing/not 1–5 (not asked for CHECK)
//	E01270001/E01270005/E01270006 PayTimes for Method 2 and 5
//	E61040001 CardNo sent (raw card numbers not permitted); nothing is kept
//	EX1000301 no Token   EX1000302 minted token used   EX1000303 expired   EX1000304 unknown or over 256 chars
//	E11010001 ExecTran or SecureTran2 on a transaction past UNPROCESSED (resp. AUTHENTICATED)
//	E01110010 AlterTran/ChangeTran (or SecureTran2) before execution
//	E11010003 JobCd not allowed in this state: SALES of a captured charge, VOID on a later
//	          date, anything on CHECK, VOID or RETURN/RETURNX, ChangeTran across families
//	E01060010 SALES Amount ≠ the authorised (current) amount
//	E01420010 SALES or ChangeTran of an AUTH/SAUTH older than Config.AuthValidity (60 days)
//	E11010010 AlterTran or ChangeTran more than 180 days after the authorisation
//	E21010001 3DS needed (TdFlag=2 or a 3DS token) but no RetUrl (payhub's choice of code)
//	E21030001 SecureTran2 before the 3DS flow came back (pending or abandoned)
//	E21030007 SecureTran2 after a rejected challenge (the order stays AUTHENTICATED)
//	E90010001 ExecTran/SecureTran2 while a TokenSlow request still holds its answer
//	E01410010 AlterTran/ChangeTran while a TokenSlow request still holds its answer
//
// Refused requests change nothing, except that ExecTran/SecureTran2 errors are noted in
// the ledger (LedgerOrder.Errors). A decline leaves the order UNPROCESSED: it can be
// executed again with another token. Lifetimes run on Config.Clock without timers.
//
// # Tokens (§7, §10)
//
// Fixture tokens are reusable, never expire, and select an outcome; each stands for a card
// SearchTrade reports:
//
//	token                    card                 outcome
//	tok_success              VISA 1111 3012       authorised (frictionless under TdFlag=2)
//	tok_decline_g02          VISA 0002            G02 / 42G020000 insufficient funds
//	tok_decline_g03          MASTER 0003          G03 / 42G030000 over the limit
//	tok_decline_g12          JCB 0012             G12 / 42G120000 card unusable
//	tok_cvc_g44              VISA 0044            G44 / 42G440000 security code wrong
//	tok_3ds_frictionless     VISA 3001            ACS=2 even without TdFlag=2; approved without the customer
//	tok_3ds_challenge        MASTER 3002          ACS=2 even without TdFlag=2; the customer must approve
//	tok_comms_42c            VISA 4200            COMMITS the authorisation, then answers C01 / 42C010000
//	tok_comms_42c_nocommit   VISA 4201            C01 / 42C010000, nothing committed
//	tok_slow                 VISA 9999            commits, then holds the answer Config.SlowDelay (50 s)
//	tok_rate_limit_e92       VISA 9200            E92 / E92000001, nothing processed (a minted one is not used up)
//	tok_used, tok_expired    —                    EX1000302, EX1000303
//
// Under TdFlag=2 every token goes through ACS=2 and the authorisation outcome (decline,
// 42C, slow) comes at SecureTran2; tok_success and the decline tokens are frictionless
// there. A decline at SecureTran2 returns the order to UNPROCESSED. tok_comms_42c is the
// unknown outcome: the client sees a comms error while SearchTrade shows AUTH/CAPTURE with
// a TranID (LedgerOperation.Answered false). While tok_slow holds its answer the order is
// InFlight; the wait ends early when the client goes away, the charge stands either way.
//
// Minted tokens (Simulator.IssueToken(kind), IssueTokenCard, POST /_sim/tokens) are
// "tok_" + 48 hex, single-use and valid TokenLifetime (30 min) on the simulator clock: used
// again → EX1000302, late → EX1000303. A token is used up once ExecTran reaches the token
// check and goes on (declines use it up; refused requests before that, EX1000303 and E92 do
// not). kind is a fixture name without "tok_" (Kinds lists them: success, decline_g02,
// 3ds_challenge, …). Tokens are never logged.
//
// # EMV 3-D Secure 2 (§4)
//
// ExecTran on a 3DS transaction records RetUrl and CallbackType and answers
// ACS=2&RedirectUrl=<base>/tds2/challenge?transId=<uuid>&t=<32 hex>, raw, with the &t= trap
// (gmopg returns t as its own key); base is Config.PublicURL or http(s)://<Host>. GET of that
// page shows Approve / Reject / Abandon buttons (POST back to /tds2/challenge with
// action=approve|reject|abandon); once approved (frictionless: at once) or rejected the page
// submits AccessID to RetUrl by itself (POST; GET for CallbackType=3). Abandoned flows
// never return. The challenge state (pending, approved, rejected, abandoned) shows as
// LedgerOrder.ThreeDS. After approval SecureTran2 authorises; after rejection it answers
// E21030007 and the order stays AUTHENTICATED (payhub's choice); pending or abandoned →
// E21030001, AUTHENTICATED.
//
// # Control endpoints and Go hooks
//
// Unauthenticated JSON under /_sim/ (errors {"error": "..."}), never faulted:
//
//	POST /_sim/tokens                   {"kind":"3ds_challenge","card":{"brand","last4","expire"}} as
//	                                    application/json (every field optional), or no body at all (success)
//	                                    → 201 {"token","kind","card","expiresAt"}
//	GET  /_sim/fixtures                 the fixture tokens and kinds
//	GET  /_sim/orders                   {"orders":[LedgerOrder…]}
//	GET  /_sim/orders/{orderID}         one LedgerOrder (404 unknown)
//	POST /_sim/orders/{orderID}/expire-auth   the AUTH/SAUTH lapses now (409 in another state)
//	GET  /_sim/tds2/{transId|AccessID}  the flow as a ChallengeResult
//	POST /_sim/tds2/{transId|AccessID}/approve|reject|abandon → 200 ChallengeResult {"transId","accessId",
//	                                    "orderId","state","retUrl","method","form":{"AccessID":…}}: what the
//	                                    browser would submit; 404 unknown, 409 already decided otherwise
//	GET|PUT|DELETE /_sim/faults         fault rules and counters (package sim); 404 without Config.Faults
//
// POST /_sim/tokens is strict: a body needs Content-Type application/json (charset
// allowed) and must be one JSON object with only those fields; a form (what curl -d sends
// without -H 'Content-Type: application/json'), another or no Content-Type, malformed JSON,
// null or another non-object, unknown fields (card's included), trailing data, a kind that
// is empty or not one of Kinds (a "tok_" prefix is allowed; used and expired are fixtures
// only) and a card outside brand VISA|MASTER|JCB|AMEX|DINERS, last4 4 digits, expire YYMM
// answer 400 {"error"} saying what was expected, and mint nothing. Omitted kind is
// success; omitted card fields take the kind's card.
//
// Go: New, IssueToken, IssueTokenCard, Kinds, ApproveChallenge and RejectChallenge (return
// RetUrl), AbandonChallenge, Challenge, Order, Orders, ExpireAuthorization, CheckString,
// ParseResponse, FaultErrorBody. A LedgerOrder shows the status, current and first
// authorised amounts (payhub reads a partial refund as AuthorisedAmount − Amount), the card
// (brand, last four, expiry), TranID, the committed operations in order (with Answered) and
// the errors answered, so a crash harness can reconcile.
//
// # Faults (§9, §10)
//
// With Config.Faults set, API calls and the 3DS page go through that sim.Faults engine:
// latency, errors before commit, hangs, resets, commit then drop, commit then error.
// Injected error statuses carry GMO's KV body (FaultErrorBody), ErrCode=E91&ErrInfo=E91099999
// by default or the rule's code as an ErrInfo (E92000001, E90010001, 42C010000, …), so gmopg
// throws BadRequest instead of crashing on a body without ErrInfo; set the rule's body to
// test that crash. GMO answers E92 and E90 with HTTP 200: use TokenRateLimited and the
// in-flight window of TokenSlow for those.
package gmopg
