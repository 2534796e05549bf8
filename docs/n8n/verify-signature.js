// The "Verify Signature" Code node of outbound-receiver.json: checks a Bitconn delivery's Standard Webhooks
// signature over the exact bytes received. Needs NODE_FUNCTION_ALLOW_BUILTIN=crypto in n8n's environment.
//
// Standard Webhooks: webhook-signature is a space-separated list of `v1,<base64 HMAC-SHA256>` over
// `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64-decoded part of the `whsec_` secret.
const crypto = require('crypto');

const { signing_secret: secret, tolerance_seconds: tolerance } = $('Config').first().json;
// 401 tells the sender its delivery is refused; 500 (our configuration) makes Bitconn retry later.
const reject = (reason, status = 401) => [{ json: { valid: false, status, reason } }];
if (typeof secret !== 'string' || !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
  return reject('the receiver has no signing secret configured', 500);
}

const headers = $('Bitconn Delivery').first().json.headers;
const id = headers['webhook-id'];
const timestamp = headers['webhook-timestamp'];
const signatures = headers['webhook-signature'];
if (!id || !timestamp || !signatures) return reject('missing webhook-id, webhook-timestamp or webhook-signature');
if (!/^[0-9]{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > tolerance) {
  return reject('webhook-timestamp is not within the tolerance');
}

// The raw body, as the Webhook node's Raw Body option keeps it (`helpers` is the Code node's, in n8n's task runner).
const body = await helpers.getBinaryDataBuffer(0, 'data');
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
const expected = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
const valid = signatures.split(' ').some((signature) => {
  const [version, value] = signature.split(',');
  const given = Buffer.from(value ?? '', 'base64');
  return version === 'v1' && given.length === expected.length && crypto.timingSafeEqual(given, expected);
});
if (!valid) return reject('no signature matches');

let payload;
try {
  payload = JSON.parse(body.toString('utf8'));
} catch {
  return reject('the body is not JSON');
}
// Ids of the delivered records: `records[].id` when the target's fields include `id`, else `ids`.
const records = Array.isArray(payload.records) ? payload.records : [];
const ids = (records.length ? records.map((r) => r.id) : (payload.ids ?? [])).filter(Number.isInteger);
return [{ json: { valid: true, webhook_id: id, event: payload.event ?? '', model: payload.model, ids, payload } }];
