// Package nanaco is payhub's nanaco centre simulator: an independent implementation of NCS v1,
// payhub's stand-in protocol for nanaco e-money, as written in docs/partners/nanaco.md
// Part B. It owns one merchant's cards, transactions, idempotency keys and nonces in memory
// and serves them as an http.Handler (`payhub sim` puts it on 127.0.0.1:7104, plain HTTP,
// mTLS off: docs/partners/nanaco.md §B1, §B8). NCS is payhub's invention, not nanaco's API.
//
// # Wire behaviour (§B1, §B2, §B7)
//
// Every call is a POST of a JSON object under /ncs/v1 (BasePath). Bodies are read strictly:
// at most 64 KiB, one object and nothing after it, every key a field of the call spelled
// exactly and given once, integers for amounts (500.0 and "500" are refused), a
// Content-Type, when sent, of application/json; anything else is 400 INVALID_REQUEST. An
// unknown path answers 404 and another method 405 (Allow: POST), both with code
// INVALID_REQUEST, before authentication.
//
// Authentication is always on (§B2). The checks, in order: NCS-Merchant-Id is the
// configured merchant and NCS-Terminal-Id matches ^[A-Za-z0-9_-]{1,40}$ (every such id is a
// registered terminal of the merchant: payhub uses one per till), NCS-Nonce is 16–64 of
// [A-Za-z0-9-] (else 401 AUTH_FAILED); NCS-Signature verifies (SIGNATURE_INVALID);
// NCS-Timestamp is RFC 3339 with the offset +09:00 and within ±300 s of the simulator clock
// (TIMESTAMP_SKEW); the nonce was not used by the merchant in the last 10 minutes
// (NONCE_REUSED). A refused request does not use its nonce. RequestSignature,
// ResponseSignature and SignRequest compute the signatures (the doc's test vector holds).
//
// Every answer to a request that carried an NCS-Nonce — successes, errors, replays,
// injected faults — is signed: NCS-Timestamp (the simulator clock, +09:00) and
// NCS-Signature over status, path, that timestamp, the request's nonce and the body. The
// exceptions are injected 502 and 504, which stand for the gateway in front of the centre.
// 429 and 503 carry Retry-After: 1. Errors are {"error":{"code","message","retryable",
// "outcome","details"}} with the statuses of §B7; details is always an object. 4xx are
// NOT_PROCESSED and not retryable; 429 and 503 are NOT_PROCESSED and retryable; other 5xx
// are UNKNOWN and retryable (by an identical re-send or an inquiry, §B6).
//
// # Idempotency (§B3)
//
// Value-moving calls (payments, payments/cancel, refunds, charges, charges/cancel,
// transfers, transfers/cancel) carry terminalSeq (1–999999) and businessDate (YYYYMMDD);
// the key is (merchant, terminal, businessDate, terminalSeq). The business date is the JST
// calendar date of the simulator clock: the cutoff is 23:59:59 JST. For a key that holds a
// transaction, the same path and byte-identical body replays the original 200 body with
// NCS-Replayed: true (freshly signed), anything else is 409 SEQ_REUSED (details.centerTxnId);
// a fenced key is 409 SEQ_FENCED; all of this whatever today's date. A new key must carry
// today's business date, else 400 BUSINESS_DATE_INVALID (details.businessDate = today).
// Only committed transactions take a key (keys are kept for the simulator's life): a
// refusal (every 4xx) changes nothing and records nothing, so the identical request sent
// again is evaluated again, and an inquiry of its key answers found:false (and fences it).
// centerTxnIds are "NC" + 18 digits from a counter, NC000000000000000001 first; refusals use
// none.
//
// # Operations (§B5)
//
// Every successful value-moving answer has the common fields of §B4 (merchantRef echoed,
// "" when absent; processedAt in +09:00). Choices where the doc is silent are marked (sim).
//
//	cards/inquiry         nanacoNumber and/or idm (IDm case-insensitive; both must name the same card, else
//	                      CARD_NOT_FOUND); any status answers; receivePending:true (ACTIVE cards only, else
//	                      the card's code) moves min(centerHeld, 50,000 − balance) onto the balance, shown as
//	                      receivedAmount (sim), and confirms the card's pending chip writes
//	payments              card ACTIVE; only the balance is spent; amount > balance → 422 INSUFFICIENT_BALANCE
//	                      (details.balance) unless allowPartial, which debits the balance (an empty card is
//	                      still refused (sim)); points = floor(eligible / 200) × 1, where with a partial debit
//	                      eligible = pointEligibleAmount × debited / requested (sim); pointEligibleAmount ≤ amount
//	payments/cancel       full amount, same terminal (TERMINAL_MISMATCH, details.terminalId), same business
//	                      date (CANCEL_WINDOW_EXPIRED), not refunded (ALREADY_REFUNDED), not cancelled or
//	                      reversed (ALREADY_CANCELLED); points reversed; answers creditedTo too (sim)
//	refunds               any terminal; up to what is left (REFUND_EXCEEDS_ORIGINAL, details.refundable); within
//	                      the refund window counted in business dates (REFUND_WINDOW_EXPIRED,
//	                      details.lastRefundDate); points reversed = floor(pointEligibleAmount / rate) ×
//	                      multiplier, capped by what the payment awarded and is left on the card
//	charges               CASH: a multiple of ¥1,000 (400 AMOUNT_NOT_MULTIPLE_OF_1000), at most ¥49,000 (422
//	                      CHARGE_LIMIT_EXCEEDED, window PER_CHARGE (sim)), balance ≤ 50,000; CREDIT: into
//	                      centre-held ≤ 50,000, limits per charge, per JST day, per JST month per card
//	                      (CHARGE_LIMIT_EXCEEDED, details.window PER_CHARGE|DAILY|MONTHLY, limit, remaining;
//	                      cancelled charges do not count); POINTS: onto the balance, refused while balance +
//	                      centre-held ≥ 50,000 (BALANCE_CAP_EXCEEDED), more than the points → 422
//	                      INSUFFICIENT_BALANCE (details.points) (sim)
//	charges/cancel        same terminal and day; the value must still be there (INSUFFICIENT_BALANCE with
//	                      details.balance or details.centerHeld); a POINTS charge gives its points back
//	transfers             terminals of Config.TransferTerminals and every MIG-… terminal (else 403
//	                      TERMINAL_NOT_ALLOWED); nanacoNumber only; ACTIVE card; into centre-held, beyond the
//	                      cap BALANCE_CAP_EXCEEDED (details.centerHeldRoom, maxChargeable) or, with allowPartial,
//	                      min(amount, room) (none left: refused); optional limits Flags.TransferMax and
//	                      TransferDaily (CHARGE_LIMIT_EXCEEDED, window PER_TRANSFER|DAILY)
//	transfers/cancel      same terminal and day; the value must still be in centre-held
//	transactions/inquiry  by centerTxnId, or by businessDate + terminalSeq (+ terminalId of another terminal;
//	                      default the caller's). Found: type, status (current), centerTxnId, amount,
//	                      requestedAmount, refundedAmount, terminalId, businessDate, terminalSeq,
//	                      originalTxnId/cancelledBy, original (the original answer's body). An unused key
//	                      answers {"found":false} and is fenced from then on; an unknown centerTxnId is
//	                      found:false and fences nothing; a key marked by MarkInProgress answers
//	                      {"found":true,"status":"IN_PROGRESS"}
//	cards/suspend         nanacoNumber, reason (required); status SUSPENDED, effectiveAt, a 9-digit transferCode;
//	                      with Flags.SuspendNextDay effective at the next 00:00 JST (payments succeed until
//	                      then). Suspending again answers the same; LOST, MIGRATED, CLOSED cards are refused
//	                      with their codes
//	migrations/*          403 TERMINAL_NOT_ALLOWED: card-to-card moves are not simulated (payhub does not use
//	                      them)
//
// Amounts are 1 to 99,999,999 (else AMOUNT_INVALID). Refused requests change nothing. Value
// given back (payment cancels, refunds) lands wholly on the balance when it fits under the
// ¥50,000 cap, else wholly in centre-held when it fits there (creditedTo CENTER_HELD), else
// 422 CAP_EXCEEDED (details.maxChargeable, centerHeldRoom). Cancels and refunds work on
// SUSPENDED and LOST cards (the centre keeps the value with the card's record, moved when
// the card is replaced) but not on MIGRATED or CLOSED ones (their codes) (sim). Payments,
// top-ups and transfers need an ACTIVE card: CARD_SUSPENDED, CARD_LOST, CARD_MIGRATED,
// CARD_CLOSED.
//
// Points live in lots by fiscal year (April–March, JST) and expire at the end of March two
// years after the year began (§A2): pointsExpiring lists the lots, expiresAt the last
// second (23:59:59 JST, 31 March). Spending takes the oldest points first; reversals the
// newest.
//
// # Fixtures (§B8)
//
// Seeded at New and Reset; IDm "0114" + the number's last 12 digits:
//
//	7000000000000001  FixtureActive      ACTIVE CARD, ¥10,000, 120 pt (earned the previous fiscal year)
//	7000000000000002  FixtureNearCap     ACTIVE CARD, ¥49,500
//	7000000000000003  FixtureSuspended   SUSPENDED, ¥3,000
//	7000000000000004  FixtureLost        LOST, ¥5,000
//	7000000000000005  FixtureMigrated    MIGRATED, ¥0
//	7000000000000006  FixtureCenterHeld  ACTIVE CARD, ¥0 on the card, ¥20,000 centre-held (room ¥30,000)
//	7000000000000007  FixtureApplePay    ACTIVE APPLE_PAY, ¥5,000
//	7000000000000008  FixtureClosed      CLOSED
//
// Any other 16-digit number is CARD_NOT_FOUND until PutCard (PUT /_sim/cards/{number})
// creates it. Credentials default to DemoMerchantID (M0001) and DemoSecret (the doc's test
// vector secret).
//
// # Realism flags (§B8)
//
// Flags (Config.Flags; nil = DefaultFlags(); changed at run time by SetFlags or PUT
// /_sim/flags): CancelSupported (default on; off, every cancel answers 422
// CANCEL_NOT_SUPPORTED), PendingChipWrite (every payment answers PENDING_CONFIRMATION until
// settled: SettlePending / PUT /_sim/pending/{id} confirm → APPROVED or reverse → REVERSED,
// the debit restored and the points taken back; a receivePending inquiry of the card, a
// cancel or a refund confirm it), SuspendNextDay, RefundWindowDays (default 90; ≤ 0 none),
// CreditPerCharge/CreditDaily/CreditMonthly (¥30,000/¥30,000/¥200,000; 0 none),
// TransferMax/TransferDaily (0 none). Merchant settings in Config: PointRate (200),
// PointMultiplier (1), TransferTerminals.
//
// # Control endpoints
//
// Unauthenticated, unsigned JSON under /_sim/, never faulted (errors are {"error": "..."}):
//
//	GET          /_sim/ledger                {"transactions":[LedgerEntry…]} in commit order, current statuses
//	GET          /_sim/ledger/{centerTxnId}  one LedgerEntry
//	GET          /_sim/cards                 {"cards":[CardState…]}
//	GET|PUT      /_sim/cards/{number}        a CardState; PUT creates or sets a card (cardType, status,
//	                                         balance, centerHeld, points, idm, transferCode)
//	GET|PUT      /_sim/clock                 {"now","businessDate"}; PUT {"now": RFC 3339} or {"advance": "36h"}
//	GET|PUT      /_sim/flags                 Flags; a PUT changes the fields it names
//	PUT          /_sim/pending/{centerTxnId} {"outcome":"confirm"|"reverse"} → the LedgerEntry (404, 409 not pending)
//	PUT|DELETE   /_sim/in-progress           {"terminalId","businessDate","terminalSeq"}: mark or unmark a key
//	POST         /_sim/reset                 back to the fixtures (clock and flags stay)
//	GET|PUT|DELETE /_sim/faults              fault rules and counters (package sim); 404 without Config.Faults
//
// Go tests use Ledger, Txn, Card, Cards, PutCard, SettlePending, MarkInProgress,
// ClearInProgress, Flags, SetFlags, Now, SetNow, Advance, BusinessDate and Reset. The clock
// is Config.Clock: a *sim.ManualClock is moved itself, any other clock by an offset.
//
// # Faults
//
// With Config.Faults set, API requests go through that sim.Faults engine (rules set in Go,
// by sim.ParseFaultFlag or through /_sim/faults): latency, error, hang, reset,
// commit_then_drop (the transaction is committed, the connection reset: an identical
// re-send replays it, an inquiry finds it), commit_then_error. Error bodies are NCS errors
// (FaultErrorBody): 503 is CENTER_MAINTENANCE (a maintenance window: "* /ncs/v1 1
// error:503"), 429 RATE_LIMITED, 504 UPSTREAM_TIMEOUT, other 5xx INTERNAL; a rule's code
// overrides. With Config.AllowFaultHeader (`payhub sim --allow-faults`), a request header
// NCS-Mock-Fault names one fault for that request in the same syntax ("commit_then_drop",
// "error:503", "latency:2s", "reset", "hang"), or "maintenance"; a malformed value is 400
// INVALID_REQUEST; without the flag the header is ignored. A request held by a latency
// fault has not reached the centre yet: an inquiry of its key meanwhile answers found:false,
// and the request is then refused with SEQ_FENCED.
package nanaco
