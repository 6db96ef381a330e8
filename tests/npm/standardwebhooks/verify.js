#!/usr/bin/env node
// Verifies webhook deliveries signed by payhub with the reference npm library
// standardwebhooks (the version pinned in package.json, unchanged), the way a store's
// Node receiver would: new Webhook(secret).verify(body, headers). The library checks the
// timestamp against the real clock, so the deliveries must be signed "now".
//
// Usage: node verify.js < cases.json
//   stdin: a JSON array of {"secret": "whsec_…", "id", "timestamp", "signature", "body"}
//   stdout: one line per rejected case with the library's reason, then
//           RESULT [true, false, …] — whether the library accepted each case, in order.
// A rejection is the library's WebhookVerificationError; any other error (a bad secret, a
// body that is not JSON) is a broken check and exits 1.
"use strict";

const { Webhook, WebhookVerificationError } = require("standardwebhooks");

function readStdin() {
  return require("fs").readFileSync(0, "utf8");
}

function accepts(c, i) {
  const headers = {
    "webhook-id": c.id,
    "webhook-timestamp": c.timestamp,
    "webhook-signature": c.signature,
  };
  try {
    new Webhook(c.secret).verify(c.body, headers);
    return true;
  } catch (err) {
    if (!(err instanceof WebhookVerificationError)) {
      throw err;
    }
    console.log(`case ${i} (${c.id}) rejected: ${err.message}`);
    return false;
  }
}

try {
  const cases = JSON.parse(readStdin());
  if (!Array.isArray(cases)) {
    throw new Error("stdin must be a JSON array of cases");
  }
  console.log(`RESULT ${JSON.stringify(cases.map(accepts))}`);
} catch (err) {
  console.error(`verify.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}
