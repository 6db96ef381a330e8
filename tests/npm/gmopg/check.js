#!/usr/bin/env node
// Drives gmopg 6.0.0 (unchanged) against payhub's GMO-PG simulator over plain HTTP, the way
// docs/partners/gmopg.md §9 describes: new GMOPG({baseUrl, ShopID, ShopPass}) with the
// client's default headers and its unencoded (qs encode:false) request bodies.
//
// Flow, one "ok <step>" line each:
//   1. entryTran AUTH → execTran with a freshly minted single-use token (POST /_sim/tokens)
//      → CheckString verified → alterTran SALES → searchTrade (SALES, masked CardNo)
//   2. reusing that token → BadRequest EX1000302
//   3. entryTran CAPTURE → execTran (minted token) → alterTran RETURN (refund)
//   4. entryTran AUTH → execTran tok_decline_g02 → BadRequest with errInfo ["42G020000"]
//   5. entryTran AUTH TdFlag=2 → execTran with RetUrl → ACS=2, RedirectUrl split at "&t="
//      (gmopg does not re-join it) → approve via POST /_sim/tds2/{transId}/approve →
//      pg.post('/payment/SecureTran2.idPass') → AUTH
//   6. an injected HTTP 503 (PUT /_sim/faults, when the simulator has a fault engine) →
//      BadRequest with errInfo ["E91099999"], not a TypeError
// then "RESULT {json}". Tokens are never printed.
//
// Usage: node check.js [host] [port]        (default 127.0.0.1 7103)
//   Credentials: PAYHUB_GMOPG_SHOP_ID, PAYHUB_GMOPG_SHOP_PASS (defaults: the simulator's demo
//   credentials). GMOPG_* variables are removed first: gmopg lets them override the
//   constructor (GMOPG_ENDPOINT would silently replace baseUrl).
// Exits 0 when the whole flow succeeds; otherwise prints what went wrong and exits 1.
"use strict";

for (const k of Object.keys(process.env)) {
  if (k.startsWith("GMOPG_")) delete process.env[k];
}

const http = require("http");
const crypto = require("crypto");
const GMOPG = require("gmopg").default;
const { BadRequest } = require("gmopg/lib/errors");

const host = process.argv[2] || "127.0.0.1";
const port = Number(process.argv[3] || 7103);
const ShopID = process.env.PAYHUB_GMOPG_SHOP_ID || "tshop00000001";
const ShopPass = process.env.PAYHUB_GMOPG_SHOP_PASS || "demo-pass";
const baseUrl = `http://${host}:${port}`;

const pg = new GMOPG({ baseUrl, ShopID, ShopPass, http: { timeout: 10000 } });

class CheckError extends Error {}

function expect(cond, what) {
  if (!cond) throw new CheckError(what);
}

// sim calls a /_sim/ endpoint of the simulator with plain http and returns [status, JSON].
function sim(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers: { "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { text += c; });
      res.on("end", () => {
        try { resolve([res.statusCode, JSON.parse(text)]); } catch (e) { reject(new CheckError(`${method} ${path}: ${e.message}`)); }
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function mintToken(kind) {
  const [status, out] = await sim("POST", "/_sim/tokens", { kind });
  expect(status === 201 && typeof out.token === "string", `mint ${kind}: HTTP ${status}`);
  return out.token;
}

// rejects runs fn and returns the BadRequest it throws.
async function rejects(what, fn) {
  try {
    await fn();
  } catch (e) {
    expect(e instanceof BadRequest, `${what}: threw ${e && e.name}: ${e && e.message}`);
    return e;
  }
  throw new CheckError(`${what}: did not throw`);
}

function orderId(tag) {
  return `npm-${tag}-${Date.now().toString(36)}${crypto.randomBytes(3).toString("hex")}`.slice(0, 27);
}

async function main() {
  const result = {};

  // 1. AUTH → SALES
  const o1 = orderId("a");
  const e1 = await pg.entryTran({ OrderID: o1, JobCd: "AUTH", Amount: 1200 });
  expect(/^[0-9a-f]{32}$/.test(e1.AccessID) && /^[0-9a-f]{32}$/.test(e1.AccessPass), "entryTran: AccessID/AccessPass");
  console.log("ok entryTran AUTH");
  const token = await mintToken("success");
  const x1 = await pg.execTran({ AccessID: e1.AccessID, AccessPass: e1.AccessPass, OrderID: o1, Method: "1", Token: token });
  // the wire key is ACS (gmopg's typings say Acs)
  expect(x1.ACS === "0" && x1.Acs === undefined, `execTran: ACS ${x1.ACS}`);
  expect(/^\d{28}$/.test(x1.TranID) && /^\d{14}$/.test(x1.TranDate) && x1.OrderID === o1, "execTran: TranID/TranDate/OrderID");
  const check = crypto.createHash("md5")
    .update(x1.OrderID + x1.Forward + x1.Method + x1.PayTimes + x1.Approve + x1.TranID + x1.TranDate + ShopPass)
    .digest("hex");
  expect(x1.CheckString === check, `execTran: CheckString ${x1.CheckString} != ${check}`);
  console.log("ok execTran");
  const s1 = await pg.alterTran({ AccessID: e1.AccessID, AccessPass: e1.AccessPass, JobCd: "SALES", Amount: 1200 });
  expect(s1.AccessID === e1.AccessID && /^\d{28}$/.test(s1.TranID), "alterTran SALES: answer");
  console.log("ok alterTran SALES");
  const t1 = await pg.searchTrade({ OrderID: o1 });
  expect(t1.Status === "SALES" && t1.Amount === "1200" && t1.AccessID === e1.AccessID && t1.AccessPass === e1.AccessPass,
    `searchTrade: ${t1.Status} ${t1.Amount}`);
  expect(t1.CardNo === "************1111" && t1.Expire === "3012" && t1.TranID === s1.TranID, `searchTrade: CardNo ${t1.CardNo}`);
  console.log("ok searchTrade SALES");
  result.captured = { orderId: o1, tranId: x1.TranID, salesTranId: s1.TranID };

  // 2. a minted token is single-use
  const o2 = orderId("u");
  const e2 = await pg.entryTran({ OrderID: o2, JobCd: "AUTH", Amount: 100 });
  const used = await rejects("reused token", () => pg.execTran({ AccessID: e2.AccessID, AccessPass: e2.AccessPass,
    OrderID: o2, Method: "1", Token: token }));
  expect(used.errInfo.length === 1 && used.errInfo[0] === "EX1000302", `reused token: errInfo ${used.errInfo}`);
  console.log("ok token single-use EX1000302");

  // 3. CAPTURE → RETURN
  const o3 = orderId("c");
  const e3 = await pg.entryTran({ OrderID: o3, JobCd: "CAPTURE", Amount: 800 });
  await pg.execTran({ AccessID: e3.AccessID, AccessPass: e3.AccessPass, OrderID: o3, Method: "1", Token: await mintToken("success") });
  console.log("ok execTran CAPTURE");
  const r3 = await pg.alterTran({ AccessID: e3.AccessID, AccessPass: e3.AccessPass, JobCd: "RETURN" });
  expect(/^\d{28}$/.test(r3.TranID), "alterTran RETURN: TranID");
  const t3 = await pg.searchTrade({ OrderID: o3 });
  expect(t3.Status === "RETURN", `searchTrade after RETURN: ${t3.Status}`);
  console.log("ok alterTran RETURN");
  result.refunded = { orderId: o3, returnTranId: r3.TranID };

  // 4. decline
  const o4 = orderId("d");
  const e4 = await pg.entryTran({ OrderID: o4, JobCd: "AUTH", Amount: 500 });
  const dec = await rejects("decline", () => pg.execTran({ AccessID: e4.AccessID, AccessPass: e4.AccessPass, OrderID: o4, Method: "1", Token: "tok_decline_g02" }));
  expect(dec.errInfo.length === 1 && dec.errInfo[0] === "42G020000", `decline: errInfo ${dec.errInfo}`);
  const t4 = await pg.searchTrade({ OrderID: o4 });
  expect(t4.Status === "UNPROCESSED", `declined order: ${t4.Status}`);
  console.log("ok decline 42G020000");
  result.declined = { orderId: o4 };

  // 5. 3DS2
  const o5 = orderId("s");
  const e5 = await pg.entryTran({ OrderID: o5, JobCd: "AUTH", Amount: 3000, TdFlag: "2", Tds2Type: "2", TdTenantName: "payhub" });
  const x5 = await pg.execTran({ AccessID: e5.AccessID, AccessPass: e5.AccessPass, OrderID: o5, Method: "1",
    Token: "tok_3ds_challenge", RetUrl: "https://shop.example/gmo/return" });
  expect(x5.ACS === "2", `3DS execTran: ACS ${x5.ACS}`);
  // gmopg splits the raw RedirectUrl at "&t=": re-join it as the adapter must
  const m = /[?&]transId=([0-9a-f-]+)$/.exec(x5.RedirectUrl || "");
  expect(m && typeof x5.t === "string" && x5.t.length > 0, `3DS execTran: RedirectUrl ${x5.RedirectUrl} t ${x5.t}`);
  const redirectUrl = `${x5.RedirectUrl}&t=${x5.t}`;
  expect(redirectUrl.startsWith(`${baseUrl}/tds2/challenge?transId=`), `3DS: RedirectUrl ${redirectUrl}`);
  await rejects("SecureTran2 before the challenge", () => pg.post("/payment/SecureTran2.idPass", { AccessID: e5.AccessID, AccessPass: e5.AccessPass }))
    .then((e) => expect(e.errInfo[0] === "E21030001", `SecureTran2 early: ${e.errInfo}`));
  const [st5, ch5] = await sim("POST", `/_sim/tds2/${m[1]}/approve`);
  expect(st5 === 200 && ch5.retUrl === "https://shop.example/gmo/return" && ch5.form.AccessID === e5.AccessID, `approve: HTTP ${st5}`);
  const y5 = await pg.post("/payment/SecureTran2.idPass", { AccessID: e5.AccessID, AccessPass: e5.AccessPass });
  expect(y5.ACS === undefined && /^\d{28}$/.test(y5.TranID), "SecureTran2: answer");
  const t5 = await pg.searchTrade({ OrderID: o5 });
  expect(t5.Status === "AUTH", `after SecureTran2: ${t5.Status}`);
  console.log("ok 3DS2 challenge SecureTran2");
  result.threeDS = { orderId: o5, tranId: y5.TranID };

  // 6. an injected 5xx carries ErrCode/ErrInfo
  const [fs] = await sim("PUT", "/_sim/faults", { rules: [{ method: "POST", path_prefix: "/payment/SearchTrade.idPass", count: 1, fault: { kind: "error", status: 503 } }] });
  if (fs === 200) {
    const f = await rejects("fault", () => pg.searchTrade({ OrderID: o1 }));
    expect(f.errInfo[0] === "E91099999" && f.response.status === 503, `fault: ${f.errInfo} HTTP ${f.response.status}`);
    console.log("ok fault 503 E91099999");
    result.fault = true;
  }

  console.log("RESULT " + JSON.stringify(result));
}

main().catch((e) => {
  if (e instanceof CheckError) {
    console.error(`FAIL ${e.message}`);
  } else if (e instanceof BadRequest) {
    console.error(`FAIL BadRequest ${e.message} errInfo=${JSON.stringify(e.errInfo)}`);
  } else {
    console.error(`FAIL ${e && e.stack ? e.stack : e}`);
  }
  process.exit(1);
});
