#!/usr/bin/env node
// Drives line-pay-merchant 0.9.0 (unchanged) against payhub's LINE Pay simulator over plain
// HTTP, the way docs/partners/linepay.md §8 describes: the library's own signing axios
// instance (dist/line-pay-api/auth-http-client) with defaults.baseURL pointed at the
// simulator, and each API assembled with createPaymentApi. Every call goes through the
// simulator's HMAC check (only the path is signed, so the loopback host does not matter).
//
// Flow: request (TWD) → the customer approves (POST /_sim/payments/{transactionId}/approve,
// plain http) → checkPaymentStatus (0110) → confirm → refund (partial) → paymentDetails
// (refundList). One "ok <step>" line per step, then "RESULT {json}" with the transactionId
// as a string. The transactionId the client parsed must equal the simulator's exactly
// (it is a bare JSON number above 2^53; the library quotes it before JSON.parse).
//
// Usage: node check.js [host] [port]        (default 127.0.0.1 7102)
//   Credentials: PAYHUB_LINEPAY_CHANNEL_ID, PAYHUB_LINEPAY_CHANNEL_SECRET (defaults: the
//   simulator's documented demo credentials).
// Exits 0 when the whole flow succeeds; otherwise prints what went wrong and exits 1.
"use strict";

const http = require("http");

const lib = (p) => require("line-pay-merchant/dist/" + p);

const host = process.argv[2] || "127.0.0.1";
const port = Number(process.argv[3] || 7102);
const channelId = process.env.PAYHUB_LINEPAY_CHANNEL_ID || "1650000000";
const channelSecretKey = process.env.PAYHUB_LINEPAY_CHANNEL_SECRET || "payhub-demo-linepay-channel-secret";
const base = `http://${host}:${port}`;

const httpClient = lib("line-pay-api/auth-http-client").createAuthHttpClient({
  channelId, channelSecretKey, env: "development", timeout: 5000,
});
httpClient.defaults.baseURL = base;
const { createPaymentApi } = lib("payment-api/create");
const api = (type, file) => createPaymentApi(type, lib("line-pay-api/" + file)[type + "WithClient"], httpClient);
const linePay = {
  request: api("request", "request"),
  confirm: api("confirm", "confirm"),
  refund: api("refund", "refund"),
  details: api("paymentDetails", "payment-details"),
  checkPaymentStatus: api("checkPaymentStatus", "check-payment-status"),
};

class CheckError extends Error {}

function expect(cond, what) {
  if (!cond) throw new CheckError(what);
}

// sim calls a /_sim/ hook of the simulator with plain http and returns the parsed JSON.
function sim(method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers: { "Content-Type": "application/json" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { body += c; });
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new CheckError(`${method} ${path}: HTTP ${res.statusCode} ${body}`));
        try { resolve(JSON.parse(body)); } catch (e) { reject(new CheckError(`${method} ${path}: ${e.message}`)); }
      });
    });
    req.on("error", reject);
    req.end(method === "POST" ? "{}" : undefined);
  });
}

async function main() {
  const orderId = `npm-check-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  const amount = 1000;
  const refundAmount = 300;

  const req = await linePay.request.send({
    body: {
      amount, currency: "TWD", orderId,
      packages: [{ id: "pkg-1", amount, name: "payhub", products: [{ name: "Coffee beans", quantity: 2, price: 500 }] }],
      redirectUrls: { confirmUrl: "https://merchant.example/confirm", cancelUrl: "https://merchant.example/cancel" },
    },
  });
  expect(req.body.returnCode === "0000", `request: returnCode ${req.body.returnCode}`);
  const transactionId = req.body.info.transactionId;
  expect(typeof transactionId === "string" && /^\d{19}$/.test(transactionId), `request: transactionId ${transactionId}`);
  expect(/^\d{12}$/.test(req.body.info.paymentAccessToken), "request: paymentAccessToken is not 12 digits");
  expect(typeof req.body.info.paymentUrl.web === "string", "request: no paymentUrl.web");
  console.log(`ok request ${orderId} ${transactionId}`);

  const ledger = await sim("POST", `/_sim/payments/${transactionId}/approve`);
  expect(ledger.status === "APPROVED", `approve: status ${ledger.status}`);
  expect(ledger.transactionId === transactionId,
    `transactionId: the client parsed ${transactionId}, the simulator has ${ledger.transactionId}`);
  console.log("ok approve");

  const check = await linePay.checkPaymentStatus.send({ transactionId, params: {} });
  expect(check.body.returnCode === "0110", `checkPaymentStatus: returnCode ${check.body.returnCode}`);
  console.log("ok checkPaymentStatus 0110");

  const conf = await linePay.confirm.send({ transactionId, body: { amount, currency: "TWD" } });
  expect(conf.body.returnCode === "0000", `confirm: returnCode ${conf.body.returnCode}`);
  expect(conf.body.info.transactionId === transactionId, `confirm: transactionId ${conf.body.info.transactionId}`);
  expect(conf.body.info.orderId === orderId, `confirm: orderId ${conf.body.info.orderId}`);
  const paid = conf.body.info.payInfo.reduce((n, p) => n + p.amount, 0);
  expect(paid === amount, `confirm: payInfo sums to ${paid}`);
  console.log("ok confirm");

  const ref = await linePay.refund.send({ transactionId, body: { refundAmount } });
  expect(ref.body.returnCode === "0000", `refund: returnCode ${ref.body.returnCode}`);
  const refundTransactionId = ref.body.info.refundTransactionId;
  expect(/^\d{19}$/.test(refundTransactionId) && refundTransactionId !== transactionId,
    `refund: refundTransactionId ${refundTransactionId}`);
  console.log(`ok refund ${refundTransactionId}`);

  const det = await linePay.details.send({ params: { transactionId: [transactionId] } });
  expect(det.body.returnCode === "0000", `paymentDetails: returnCode ${det.body.returnCode}`);
  expect(det.body.info.length === 1, `paymentDetails: ${det.body.info.length} results`);
  const d = det.body.info[0];
  expect(d.transactionId === transactionId, `paymentDetails: transactionId ${d.transactionId}`);
  expect(d.orderId === orderId && d.payStatus === "CAPTURE", `paymentDetails: ${d.orderId} ${d.payStatus}`);
  expect(d.refundList && d.refundList.length === 1, "paymentDetails: refundList");
  expect(d.refundList[0].refundTransactionId === refundTransactionId, `paymentDetails: refundTransactionId ${d.refundList[0].refundTransactionId}`);
  expect(d.refundList[0].refundAmount === -refundAmount, `paymentDetails: refundAmount ${d.refundList[0].refundAmount}`);
  console.log("ok paymentDetails");

  // the simulator's own view of the same payment, by orderId
  const final = await sim("GET", `/_sim/payments/${encodeURIComponent(orderId)}`);
  expect(final.transactionId === transactionId, `ledger: transactionId ${final.transactionId} != ${transactionId}`);

  console.log("RESULT " + JSON.stringify({ orderId, transactionId, refundTransactionId, amount, refundAmount }));
}

main().catch((e) => {
  if (e instanceof CheckError) {
    console.error(`FAIL ${e.message}`);
  } else if (e && e.name === "LinePayApiError") {
    console.error(`FAIL LinePayApiError ${e.message} ${JSON.stringify(e.data)}`);
  } else {
    console.error(`FAIL ${e && e.stack ? e.stack : e}`);
  }
  process.exit(1);
});
