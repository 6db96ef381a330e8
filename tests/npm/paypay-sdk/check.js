#!/usr/bin/env node
// Drives the official PayPay Node SDK (@paypayopa/paypayopa-sdk-node 2.2.0, unchanged)
// against payhub's PayPay simulator over plain HTTP, the way docs/partners/paypay.md §12
// describes: a PayPayRestSDK instance whose HTTPS transport is swapped for http.request.
// Every OPA call goes through the simulator's strict signature check.
//
// Usage: node check.js [host] [port]
//   host/port default to PAYPAY_SIM_HOST / PAYPAY_SIM_PORT, then 127.0.0.1:7101.
//   Credentials: PAYHUB_PAYPAY_API_KEY, PAYHUB_PAYPAY_API_SECRET, PAYHUB_PAYPAY_MERCHANT_ID
//   (defaults: the simulator's documented demo credentials).
// Exits 0 when the whole flow succeeds; otherwise prints what went wrong and exits 1.
"use strict";

const http = require("http");
const { PayPayRestSDK, Conf } = require("@paypayopa/paypayopa-sdk-node");

const host = process.argv[2] || process.env.PAYPAY_SIM_HOST || "127.0.0.1";
const port = Number(process.argv[3] || process.env.PAYPAY_SIM_PORT || 7101);
const creds = {
  clientId: process.env.PAYHUB_PAYPAY_API_KEY || "payhub-demo-paypay-api-key",
  clientSecret: process.env.PAYHUB_PAYPAY_API_SECRET || "payhub-demo-paypay-api-secret",
  merchantId: process.env.PAYHUB_PAYPAY_MERCHANT_ID || "payhub-demo-merchant",
};
const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

// plainHttp is the SDK's HttpsClient contract over http: it writes exactly the bytes the
// SDK signed (JSON.stringify of the payload) and reports {STATUS, BODY} or {STATUS, ERROR}.
const plainHttp = {
  httpsCall(options, payload, callback) {
    delete options.apiKey; // the SDK's API name, not a credential
    const req = http.request(options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => { body += chunk; });
      res.on("end", () => {
        try {
          callback({ STATUS: res.statusCode, BODY: body.match(/\S/) ? JSON.parse(body) : null });
        } catch (e) {
          callback({ STATUS: 500, ERROR: `non-JSON answer: ${e.message}` });
        }
      });
    });
    req.on("error", (e) => callback({ STATUS: undefined, ERROR: e.message }));
    if (options.method === "POST") {
      req.write(JSON.stringify(payload));
    }
    req.end();
  },
};

function newSDK(secret) {
  const sdk = new PayPayRestSDK();
  sdk.configure({ ...creds, clientSecret: secret, conf: new Conf({ hostName: host, portNumber: port }) });
  sdk.setHttpsClient(plainHttp);
  return sdk;
}

class CheckError extends Error {}

// expectOK checks an SDK result: 2xx, an accepted resultInfo.code and, when given, one of
// the wanted data.status values. It returns data.
function expectOK(step, result, statuses) {
  const body = result.BODY;
  const where = `${step}: STATUS ${result.STATUS}, body ${JSON.stringify(body)}${result.ERROR ? `, error ${result.ERROR}` : ""}`;
  if (!(result.STATUS >= 200 && result.STATUS <= 299)) throw new CheckError(`${where} (want 2xx)`);
  const code = body && body.resultInfo && body.resultInfo.code;
  if (code !== "SUCCESS" && code !== "REQUEST_ACCEPTED") throw new CheckError(`${where} (want SUCCESS)`);
  const data = body.data;
  if (statuses && !(data && statuses.includes(data.status))) {
    throw new CheckError(`${where} (want data.status in ${statuses.join("|")})`);
  }
  console.log(`ok   ${step}: ${result.STATUS} ${code}${data && data.status ? ` ${data.status}` : ""}`);
  return data;
}

// simPost calls an unauthenticated /_sim/ control endpoint.
function simPost(path, body) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request({ host, port, path, method: "POST", headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { text += c; });
      res.on("end", () => {
        if (res.statusCode < 200 || res.statusCode > 299) {
          reject(new CheckError(`POST ${path}: ${res.statusCode} ${text}`));
          return;
        }
        resolve(JSON.parse(text));
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function main() {
  const sdk = newSDK(creds.clientSecret);
  const amount = (n) => ({ amount: n, currency: "JPY" });

  // 1. Dynamic QR: create, the customer pays it, read it back.
  const qrId = `node-qr-${runId}`;
  const qr = expectOK("qrCodeCreate", await sdk.qrCodeCreate({
    merchantPaymentId: qrId, amount: amount(1200), codeType: "ORDER_QR", orderDescription: "node sdk check",
  }));
  if (!qr.codeId || !qr.url || !qr.deeplink) throw new CheckError(`qrCodeCreate: missing codeId/url/deeplink in ${JSON.stringify(qr)}`);
  const paid = await simPost(`/_sim/codes/${qr.codeId}/pay`, { userAuthorizationId: "user-ok" });
  if (paid.status !== "COMPLETED") throw new CheckError(`/_sim pay: status ${paid.status}`);
  expectOK("getCodePaymentDetails", await sdk.getCodePaymentDetails([qrId]), ["COMPLETED"]);

  // 2. Linked user: pay, read, refund, read the refund.
  const payId = `node-pay-${runId}`;
  const payment = expectOK("createPayment", await sdk.createPayment({
    merchantPaymentId: payId, userAuthorizationId: "user-ok", amount: amount(800), orderDescription: "node sdk check",
  }, true), ["COMPLETED"]);
  const details = expectOK("getPaymentDetails", await sdk.getPaymentDetails([payId]), ["COMPLETED"]);
  if (details.paymentId !== payment.paymentId) throw new CheckError(`getPaymentDetails: paymentId ${details.paymentId}, want ${payment.paymentId}`);
  const refundId = `node-refund-${runId}`;
  expectOK("paymentRefund", await sdk.paymentRefund({
    merchantRefundId: refundId, paymentId: payment.paymentId, amount: amount(300), reason: "node sdk check",
  }), ["CREATED", "REFUNDED"]);
  const refund = expectOK("getRefundDetails", await sdk.getRefundDetails([refundId]), ["CREATED", "REFUNDED"]);
  if (refund.amount.amount !== 300) throw new CheckError(`getRefundDetails: amount ${JSON.stringify(refund.amount)}, want 300`);

  // 3. Account link: the link QR, the customer approves it (/_sim), the SDK verifies the
  //    responseToken (HS256, keyed with the base64-decoded API secret), reads the user
  //    authorization; the new user pays.
  const referenceId = `node-link-${runId}`;
  const nonce = `nonce-${runId}`;
  const link = expectOK("accountLinkQRCodeCreate", await sdk.accountLinkQRCodeCreate({
    scopes: ["direct_debit", "cashback"], nonce, redirectType: "WEB_LINK",
    redirectUrl: "https://payhub.example/v1/linked-accounts/return", referenceId,
  }));
  if (!link || !link.linkQRCodeURL) throw new CheckError(`accountLinkQRCodeCreate: no linkQRCodeURL in ${JSON.stringify(link)}`);
  const sessionId = link.linkQRCodeURL.split("/").pop();
  const approval = await simPost(`/_sim/links/${sessionId}/approve`, {});
  const token = new URL(approval.redirectUrl).searchParams.get("responseToken");
  if (!token) throw new CheckError(`/_sim approve: no responseToken in ${approval.redirectUrl}`);
  let claims;
  try {
    claims = sdk.validateJWT(token, creds.clientSecret);
  } catch (e) {
    throw new CheckError(`validateJWT: ${e.message}`);
  }
  const wantClaims = { iss: "paypay.ne.jp", aud: creds.merchantId, result: "succeeded", nonce, referenceId };
  for (const [k, v] of Object.entries(wantClaims)) {
    if (claims[k] !== v) throw new CheckError(`validateJWT: claim ${k} = ${JSON.stringify(claims[k])}, want ${JSON.stringify(v)}`);
  }
  const userId = claims.userAuthorizationId;
  if (!userId || userId !== approval.userAuthorizationId || !(claims.exp > Date.now() / 1000)) {
    throw new CheckError(`validateJWT: userAuthorizationId/exp in ${JSON.stringify(claims)}`);
  }
  let forgedAccepted = false;
  try {
    sdk.validateJWT(token, Buffer.from("not the secret").toString("base64"));
    forgedAccepted = true;
  } catch (e) { /* refused, as it must be */ }
  if (forgedAccepted) throw new CheckError("validateJWT accepted the token under another secret");
  console.log("ok   validateJWT: responseToken verified, another secret refused");
  const auth = expectOK("getUserAuthorizationStatus", await sdk.getUserAuthorizationStatus([userId]), ["ACTIVE"]);
  if (!(auth.scopes || []).includes("cashback")) throw new CheckError(`getUserAuthorizationStatus: scopes ${JSON.stringify(auth.scopes)}`);
  const linkedPayId = `node-linkpay-${runId}`;
  expectOK("createPayment (linked user)", await sdk.createPayment({
    merchantPaymentId: linkedPayId, userAuthorizationId: userId, amount: amount(450), orderDescription: "node sdk check",
  }, true), ["COMPLETED"]);

  // 4. Cashback to the linked user, read it, reverse part of it, read the reversal.
  const cashbackId = `node-cb-${runId}`;
  expectOK("cashBack", await sdk.cashBack({
    merchantCashbackId: cashbackId, userAuthorizationId: userId, amount: amount(2000),
    orderDescription: "node sdk check", walletType: "PREPAID",
  }));
  const cb = expectOK("getCashBackDetails", await sdk.getCashBackDetails([cashbackId]), ["SUCCESS"]);
  if (cb.amount.amount !== 2000 || cb.userAuthorizationId !== userId) throw new CheckError(`getCashBackDetails: ${JSON.stringify(cb)}`);
  const reversalId = `node-cbr-${runId}`;
  expectOK("reverseCashBack", await sdk.reverseCashBack({
    merchantCashbackReversalId: reversalId, merchantCashbackId: cashbackId, amount: amount(500), reason: "node sdk check",
  }));
  const rev = expectOK("getReverseCashBackDetails", await sdk.getReverseCashBackDetails([reversalId, cashbackId]), ["SUCCESS"]);
  if (rev.amount.amount !== 500) throw new CheckError(`getReverseCashBackDetails: ${JSON.stringify(rev)}`);

  // 5. Unlink: the authorization is no longer active.
  expectOK("unlinkUser", await sdk.unlinkUser([userId]));
  expectOK("getUserAuthorizationStatus after unlink", await sdk.getUserAuthorizationStatus([userId]), ["INACTIVE"]);

  // 6. The check is strict: the same SDK with a wrong secret is refused.
  const bad = await newSDK(`${creds.clientSecret}-wrong`).getPaymentDetails([payId]);
  if (bad.STATUS !== 401 || !bad.BODY || bad.BODY.resultInfo.code !== "UNAUTHORIZED") {
    throw new CheckError(`wrong secret: STATUS ${bad.STATUS}, body ${JSON.stringify(bad.BODY)} (want 401 UNAUTHORIZED)`);
  }
  console.log("ok   wrong secret refused: 401 UNAUTHORIZED");

  // Machine-readable summary for the Go test.
  console.log(`RESULT ${JSON.stringify({
    qrMerchantPaymentId: qrId, merchantPaymentId: payId, paymentId: payment.paymentId, merchantRefundId: refundId,
    userAuthorizationId: userId, linkedMerchantPaymentId: linkedPayId, merchantCashbackId: cashbackId,
    merchantCashbackReversalId: reversalId,
  })}`);
}

main().catch((e) => {
  console.error(`FAIL ${e instanceof CheckError ? e.message : e.stack || e}`);
  process.exit(1);
});
