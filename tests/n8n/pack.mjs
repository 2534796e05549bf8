// The n8n workflow pack in docs/n8n, built from one description: `node tests/n8n/pack.mjs` writes the files,
// `--check` fails when a committed file differs from what this script builds.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACK_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'n8n');

/** The n8n credential every gateway call uses; a workflow refers to it by id and name. */
export const CREDENTIAL = { id: 'bitconnWebhookKey', name: 'Bitconn webhook' };

/** The node versions n8n 2.8's editor creates, and the condition format of its If and Switch nodes. */
const V = {
  manualTrigger: 1,
  set: 3.4,
  switch: 3.4,
  if: 2.3,
  httpRequest: 4.4,
  stopAndError: 1,
  webhook: 2.1,
  code: 2,
  respondToWebhook: 1.5,
};
const CONDITIONS_VERSION = 3;

const cfg = (key) => `$('Config').item.json.${key}`;
const GATEWAY_URL = `={{ ${cfg('base_url')} }}/bitconn/webhook/{{ ${cfg('webhook_id')} }}`;

/** An n8n expression around `js`, which may not contain `}}`: n8n's template parser would take it for the end. */
function expr(js) {
  if (js.includes('}}')) throw new Error(`expression contains "}}": ${js}`);
  return `={{ ${js} }}`;
}

function uuid(seed) {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A POST to the webhook; `body` is JavaScript building the request object, `idempotencyKey` JavaScript giving the
 * key (a flow name stands for Config's `run_id` and the flow).
 */
function gateway(name, body, { idempotencyKey } = {}) {
  const key = /^[a-z_]+$/.test(idempotencyKey ?? '') ? `${cfg('run_id')} + ':${idempotencyKey}'` : idempotencyKey;
  const parameters = {
    method: 'POST',
    url: GATEWAY_URL,
    authentication: 'genericCredentialType',
    genericAuthType: 'httpHeaderAuth',
  };
  if (idempotencyKey) {
    parameters.sendHeaders = true;
    parameters.headerParameters = {
      parameters: [{ name: 'Idempotency-Key', value: expr(key) }],
    };
  }
  Object.assign(parameters, {
    sendBody: true,
    specifyBody: 'json',
    jsonBody: expr(`JSON.stringify(${body})`),
    options: {},
  });
  const node = {
    name,
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: V.httpRequest,
    parameters,
    credentials: { httpHeaderAuth: { id: CREDENTIAL.id, name: CREDENTIAL.name } },
  };
  // A create carries an Idempotency-Key, so n8n's retry can never create twice.
  if (idempotencyKey) Object.assign(node, { retryOnFail: true, maxTries: 3, waitBetweenTries: 2000 });
  return node;
}

function check(name, condition) {
  return {
    name,
    type: 'n8n-nodes-base.if',
    typeVersion: V.if,
    parameters: {
      conditions: {
        options: { caseSensitive: true, leftValue: '', typeValidation: 'strict', version: CONDITIONS_VERSION },
        conditions: [
          {
            id: uuid(`${name}/condition`),
            leftValue: expr(condition),
            rightValue: '',
            operator: { type: 'boolean', operation: 'true', singleValue: true },
          },
        ],
        combinator: 'and',
      },
      options: {},
    },
  };
}

function stop(name, message) {
  return {
    name,
    type: 'n8n-nodes-base.stopAndError',
    typeVersion: V.stopAndError,
    parameters: { errorMessage: expr(message) },
  };
}

/** How many records a search answered, as n8n JavaScript. */
const found = (node) => `$('${node}').item.json.records.length`;
const firstId = (node) => `$('${node}').item.json.records[0].id`;
/** "2 partners have …" / "no partner has …", for a stop message. */
const foundText = (node, one, many, what) =>
  `(${found(node)} === 0 ? 'no ${one} has ' : ${found(node)} + ' ${many} have ') + ${what}`;

/** A search that finds one record by one field, answering at most two (two means "not unique"). */
const findOne = (name, model, field, value) =>
  gateway(name, `{ model: '${model}', method: 'search', domain: [['${field}', '=', ${value}]], fields: ['id', 'name'], limit: 2 }`);

/** Find a customer by email and a product by internal reference, then `create` (or stop, naming what is missing). */
function customerAndProduct(flow, what, createName, body) {
  const customer = `Find ${what} Customer`;
  const product = `Find ${what} Product`;
  const ok = `${what} Customer and Product Found?`;
  const missing = `Stop: ${what} Customer or Product Not Found`;
  return {
    entry: customer,
    nodes: [
      findOne(customer, 'res.partner', 'email', cfg('partner_email')),
      findOne(product, 'product.product', 'default_code', cfg('product_default_code')),
      check(ok, `${found(customer)} === 1 && ${found(product)} === 1`),
      stop(
        missing,
        `'No ${what.toLowerCase()} was created: ' + [` +
          `${found(customer)} === 1 ? '' : ${foundText(customer, 'partner', 'partners', `'the email ' + ${cfg('partner_email')}`)}, ` +
          `${found(product)} === 1 ? '' : ${foundText(product, 'product', 'products', `'the internal reference ' + ${cfg('product_default_code')}`)}` +
          `].filter(Boolean).join(' and ') + ' (exactly one of each is needed).'`,
      ),
      gateway(createName, body(firstId(customer), firstId(product)), { idempotencyKey: flow }),
    ],
    links: [
      [customer, product],
      [product, ok],
      [ok, createName, 0],
      [ok, missing, 1],
    ],
  };
}

/** Find one record by name, then post a message on its chatter (or stop when none or several match). */
function postMessage(flow, { model, what, nameKey }) {
  const find = `Find ${what}`;
  const ok = `${what} Found?`;
  const missing = `Stop: ${what} Not Found`;
  const post = `Post ${what} Message`;
  return {
    entry: find,
    nodes: [
      findOne(find, model, 'name', cfg(nameKey)),
      check(ok, `${found(find)} === 1`),
      stop(
        missing,
        `'No message was posted: ' + ${foundText(find, what.toLowerCase(), `${what.toLowerCase()}s`, `'the name ' + ${cfg(nameKey)}`)} + ' (exactly one is needed).'`,
      ),
      gateway(
        post,
        `{ model: '${model}', method: 'call', function: 'message_post', ids: [${firstId(find)}], ` +
          `kwargs: { body: ${cfg('message')}, message_type: 'comment', subtype_xmlid: 'mail.mt_comment' } }`,
        { idempotencyKey: flow },
      ),
    ],
    links: [
      [find, ok],
      [ok, post, 0],
      [ok, missing, 1],
    ],
  };
}

const single = (node) => ({ entry: node.name, nodes: [node], links: [] });

const s = (name, value) => ({ name, type: 'string', value });
const n = (name, value) => ({ name, type: 'number', value });

/** Every flow: its Config values (defaults that work against `bitconn serve`'s demo data) and its nodes. */
export const FLOWS = [
  {
    key: 'create_contact',
    file: '01-create-contact.json',
    title: 'Create a contact',
    config: [s('contact_name', 'Webhook Contact'), s('partner_email', 'webhook@example.com')],
    build: (flow) =>
      single(
        gateway(
          'Create Contact',
          `{ model: 'res.partner', method: 'create', values: { name: ${cfg('contact_name')}, email: ${cfg('partner_email')} } }`,
          { idempotencyKey: flow },
        ),
      ),
  },
  {
    key: 'update_contact',
    file: '02-update-contact.json',
    title: 'Update a contact found by email',
    config: [s('partner_email', 'webhook@example.com'), s('phone', '+55 11 99999-0000')],
    build: () =>
      single(
        gateway(
          'Update Contact',
          `{ model: 'res.partner', method: 'write', domain: [['email', '=', ${cfg('partner_email')}]], values: { phone: ${cfg('phone')} } }`,
        ),
      ),
  },
  {
    key: 'create_lead',
    file: '03-create-lead.json',
    title: 'Create a CRM lead',
    config: [
      s('lead_name', 'Website enquiry'),
      s('contact_name', 'Webhook Contact'),
      s('partner_email', 'webhook@example.com'),
    ],
    build: (flow) =>
      single(
        gateway(
          'Create Lead',
          `{ model: 'crm.lead', method: 'create', values: { name: ${cfg('lead_name')}, contact_name: ${cfg('contact_name')}, email_from: ${cfg('partner_email')} } }`,
          { idempotencyKey: flow },
        ),
      ),
  },
  {
    key: 'update_lead',
    file: '04-update-lead.json',
    title: 'Update a CRM lead by id',
    config: [n('lead_id', 1), s('priority', '2')],
    build: () =>
      single(
        gateway(
          'Update Lead',
          `{ model: 'crm.lead', method: 'write', ids: [${cfg('lead_id')}], values: { priority: ${cfg('priority')} } }`,
        ),
      ),
  },
  {
    key: 'create_sale_order',
    file: '05-create-sale-order.json',
    title: 'Create a sale order for a customer and a product',
    config: [s('partner_email', 'webhook@example.com'), s('product_default_code', 'FURN_7777'), n('qty', 1), n('price', 100)],
    build: (flow) =>
      customerAndProduct(
        flow,
        'Order',
        'Create Sale Order',
        (partner, product) =>
          `{ model: 'sale.order', method: 'create', values: { partner_id: ${partner}, order_line: [[0, 0, { product_id: ${product}, product_uom_qty: ${cfg('qty')}, price_unit: ${cfg('price')} }]] } }`,
      ),
  },
  {
    key: 'create_invoice',
    file: '06-create-invoice.json',
    title: 'Create a customer invoice for a customer and a product',
    config: [s('partner_email', 'webhook@example.com'), s('product_default_code', 'FURN_7777'), n('qty', 1), n('price', 100)],
    build: (flow) =>
      customerAndProduct(
        flow,
        'Invoice',
        'Create Invoice',
        (partner, product) =>
          `{ model: 'account.move', method: 'create', values: { move_type: 'out_invoice', partner_id: ${partner}, invoice_line_ids: [[0, 0, { product_id: ${product}, quantity: ${cfg('qty')}, price_unit: ${cfg('price')} }]] } }`,
      ),
  },
  {
    key: 'post_sale_order_message',
    file: '07-post-sale-order-message.json',
    title: 'Post a message on a sale order',
    config: [s('so_name', 'S00001'), s('message', 'Shipped today (posted from n8n)')],
    build: (flow) => postMessage(flow, { model: 'sale.order', what: 'Sale Order', nameKey: 'so_name' }),
  },
  {
    key: 'post_channel_message',
    file: '08-post-channel-message.json',
    title: 'Post a message in a Discuss channel',
    config: [s('channel_name', 'general'), s('message', 'Hello from n8n')],
    build: (flow) => postMessage(flow, { model: 'discuss.channel', what: 'Channel', nameKey: 'channel_name' }),
  },
  {
    key: 'update_sale_order',
    file: '09-update-sale-order.json',
    title: 'Set the customer reference of a sale order found by name',
    config: [s('so_name', 'S00001'), s('customer_reference', 'PO-4711')],
    build: () =>
      single(
        gateway(
          'Update Sale Order',
          `{ model: 'sale.order', method: 'write', domain: [['name', '=', ${cfg('so_name')}]], values: { client_order_ref: ${cfg('customer_reference')} } }`,
        ),
      ),
  },
  {
    key: 'update_invoice',
    file: '10-update-invoice.json',
    title: 'Set the reference of an invoice found by number',
    config: [s('invoice_name', 'INV/2026/00001'), s('invoice_reference', 'PO-4711')],
    build: () =>
      single(
        gateway(
          'Update Invoice',
          `{ model: 'account.move', method: 'write', domain: [['name', '=', ${cfg('invoice_name')}], ['move_type', '=', 'out_invoice']], values: { ref: ${cfg('invoice_reference')} } }`,
        ),
      ),
  },
];

const BASE_CONFIG = [s('base_url', 'http://127.0.0.1:8080'), s('webhook_id', 'REPLACE_WITH_WEBHOOK_ID')];
/** Unique per execution (execution ids alone repeat across n8n instances): the prefix of its Idempotency-Keys. */
const RUN_ID = s('run_id', "={{ $execution.id + '-' + $now.toMillis() }}");

/** The Config node; `keepInput` keeps the incoming item (json and binary) beside the values. */
function configNode(values, { keepInput = false } = {}) {
  return {
    name: 'Config',
    type: 'n8n-nodes-base.set',
    typeVersion: V.set,
    parameters: {
      assignments: {
        assignments: values.map((v) => ({ id: uuid(`config/${v.name}`), name: v.name, value: v.value, type: v.type })),
      },
      ...(keepInput ? { includeOtherFields: true } : {}),
      options: {},
    },
  };
}

/** Config values once each, in first-seen order. */
function mergeConfig(lists) {
  const seen = new Map();
  for (const v of lists.flat()) if (!seen.has(v.name)) seen.set(v.name, v);
  return [...seen.values()];
}

function connect(connections, from, to, output = 0) {
  const main = (connections[from] ??= { main: [] }).main;
  while (main.length <= output) main.push([]);
  main[output].push({ node: to, type: 'main', index: 0 });
}

/** Places a branch's nodes on a row, following its links (a node goes one column right of its source). */
function place(branch, x0, y0, positions) {
  const column = new Map([[branch.entry, 0]]);
  const row = new Map([[branch.entry, 0]]);
  for (const [from, to, output = 0] of branch.links) {
    column.set(to, column.get(from) + 1);
    row.set(to, row.get(from) + output);
  }
  for (const node of branch.nodes) {
    positions.set(node.name, [x0 + 220 * (column.get(node.name) ?? 0), y0 + 160 * (row.get(node.name) ?? 0)]);
  }
  return 1 + Math.max(...row.values());
}

function workflow({ name, id, nodes, connections, positions }) {
  return {
    id,
    name,
    nodes: nodes.map((node) => ({
      parameters: node.parameters,
      id: uuid(`${id}/${node.name}`),
      name: node.name,
      type: node.type,
      typeVersion: node.typeVersion,
      position: positions.get(node.name),
      ...Object.fromEntries(Object.entries(node).filter(([k]) => !['parameters', 'name', 'type', 'typeVersion'].includes(k))),
    })),
    connections,
    pinData: {},
    settings: { executionOrder: 'v1' },
    active: false,
    tags: [],
  };
}

const trigger = { name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: V.manualTrigger, parameters: {} };

const withBuild = (flow) => flow.build(flow.key);
const needsRunId = (branch) => branch.nodes.some((node) => node.parameters.sendHeaders);

function singleFlow(flow, index) {
  const branch = withBuild(flow);
  const positions = new Map([['Start', [0, 0]], ['Config', [220, 0]]]);
  place(branch, 440, 0, positions);
  const connections = {};
  connect(connections, 'Start', 'Config');
  connect(connections, 'Config', branch.entry);
  for (const [from, to, output] of branch.links) connect(connections, from, to, output);
  return workflow({
    id: `bitconnFlow${String(index + 1).padStart(2, '0')}`,
    name: `Bitconn: ${flow.title}`,
    nodes: [trigger, configNode([...BASE_CONFIG, ...flow.config, ...(needsRunId(branch) ? [RUN_ID] : [])]), ...branch.nodes],
    connections,
    positions,
  });
}

const SWITCH = 'Flow';
const UNKNOWN = 'Stop: Unknown Flow';

function allFlows() {
  const branches = FLOWS.map(withBuild);
  const config = mergeConfig([BASE_CONFIG, [s('flow', 'create_contact')], ...FLOWS.map((f) => f.config), [RUN_ID]]);
  const rules = FLOWS.map((flow) => ({
    conditions: {
      options: { caseSensitive: true, leftValue: '', typeValidation: 'strict', version: CONDITIONS_VERSION },
      conditions: [
        {
          id: uuid(`switch/${flow.key}`),
          leftValue: '={{ $json.flow }}',
          rightValue: flow.key,
          operator: { type: 'string', operation: 'equals' },
        },
      ],
      combinator: 'and',
    },
    renameOutput: true,
    outputKey: flow.key,
  }));
  const flowSwitch = {
    name: SWITCH,
    type: 'n8n-nodes-base.switch',
    typeVersion: V.switch,
    parameters: { rules: { values: rules }, options: { fallbackOutput: 'extra', renameFallbackOutput: 'unknown flow' } },
  };
  const unknown = stop(UNKNOWN, `'Unknown flow "' + $json.flow + '": set Config.flow to one of ${FLOWS.map((f) => f.key).join(', ')}.'`);
  const positions = new Map([['Start', [0, 0]], ['Config', [220, 0]], [SWITCH, [440, 0]]]);
  const connections = {};
  connect(connections, 'Start', 'Config');
  connect(connections, 'Config', SWITCH);
  let y = 0;
  branches.forEach((branch, i) => {
    y += 160 * place(branch, 700, y, positions);
    connect(connections, SWITCH, branch.entry, i);
    for (const [from, to, output] of branch.links) connect(connections, from, to, output);
  });
  positions.set(UNKNOWN, [700, y]);
  connect(connections, SWITCH, UNKNOWN, FLOWS.length);
  positions.set('Config', [220, Math.round(y / 2)]);
  positions.set('Start', [0, Math.round(y / 2)]);
  positions.set(SWITCH, [440, Math.round(y / 2)]);
  return workflow({
    id: 'bitconnAllFlows0',
    name: 'Bitconn: all flows',
    nodes: [trigger, configNode(config), flowSwitch, ...branches.flatMap((b) => b.nodes), unknown],
    connections,
    positions,
  });
}

export const OUTBOUND_FILE = 'outbound-receiver.json';
/** Path of the receiver's webhook: n8n serves it at <n8n URL>/webhook/bitconn-outbound once the workflow is active. */
export const OUTBOUND_PATH = 'bitconn-outbound';

/** Receives Bitconn's signed deliveries, verifies them, posts a note on each delivered record, answers 200 or 401. */
function outboundReceiver() {
  const verify = 'Verify Signature';
  const record = (key) => `$('${verify}').item.json.${key}`;
  const nodes = [
    {
      name: 'Bitconn Delivery',
      type: 'n8n-nodes-base.webhook',
      typeVersion: V.webhook,
      parameters: { httpMethod: 'POST', path: OUTBOUND_PATH, responseMode: 'responseNode', options: { rawBody: true } },
      webhookId: uuid('outbound/webhook'),
    },
    // Keeps the delivery's raw body (binary) for the Code node, which reads it from its input.
    configNode([...BASE_CONFIG, s('signing_secret', 'whsec_REPLACE_WITH_SIGNING_SECRET'), n('tolerance_seconds', 300)], { keepInput: true }),
    {
      name: verify,
      type: 'n8n-nodes-base.code',
      typeVersion: V.code,
      parameters: { jsCode: readFileSync(join(PACK_DIR, 'verify-signature.js'), 'utf8') },
      onError: 'continueErrorOutput',
    },
    check('Signature Valid?', '$json.valid'),
    check('Records to Act On?', `${record('ids')}.length > 0`),
    gateway(
      'Post Note on Records',
      `{ model: ${record('model')}, method: 'call', function: 'message_post', ids: ${record('ids')}, ` +
        `kwargs: { body: 'n8n received ' + (${record('event')} || 'a delivery') + ' (' + ${record('webhook_id')} + ')', message_type: 'comment' } }`,
      { idempotencyKey: record('webhook_id') },
    ),
    {
      name: 'Accepted',
      type: 'n8n-nodes-base.respondToWebhook',
      typeVersion: V.respondToWebhook,
      parameters: {
        respondWith: 'json',
        responseBody: expr(`JSON.stringify({ ok: true, webhook_id: ${record('webhook_id')} })`),
        options: { responseCode: 200 },
      },
    },
    {
      name: 'Rejected',
      type: 'n8n-nodes-base.respondToWebhook',
      typeVersion: V.respondToWebhook,
      parameters: {
        respondWith: 'json',
        responseBody: expr(`JSON.stringify({ ok: false, error: 'rejected', reason: $json.reason })`),
        options: { responseCode: '={{ $json.status }}' },
      },
    },
    {
      name: 'Failed',
      type: 'n8n-nodes-base.respondToWebhook',
      typeVersion: V.respondToWebhook,
      parameters: {
        respondWith: 'json',
        responseBody: '{"ok": false, "error": "receiver_failed"}',
        options: { responseCode: 500 },
      },
    },
  ];
  // Every path ends in a response: an error in a node answers 500, so Bitconn retries the delivery.
  nodes.find((node) => node.name === 'Post Note on Records').onError = 'continueErrorOutput';
  const positions = new Map([
    ['Bitconn Delivery', [0, 0]],
    ['Config', [220, 0]],
    [verify, [440, 0]],
    ['Signature Valid?', [660, 0]],
    ['Records to Act On?', [880, -80]],
    ['Post Note on Records', [1100, -160]],
    ['Accepted', [1320, -80]],
    ['Rejected', [880, 160]],
    ['Failed', [1320, 160]],
  ]);
  const connections = {};
  connect(connections, 'Bitconn Delivery', 'Config');
  connect(connections, 'Config', verify);
  connect(connections, verify, 'Signature Valid?');
  connect(connections, verify, 'Failed', 1);
  connect(connections, 'Post Note on Records', 'Failed', 1);
  connect(connections, 'Signature Valid?', 'Records to Act On?', 0);
  connect(connections, 'Signature Valid?', 'Rejected', 1);
  connect(connections, 'Records to Act On?', 'Post Note on Records', 0);
  connect(connections, 'Records to Act On?', 'Accepted', 1);
  connect(connections, 'Post Note on Records', 'Accepted');
  return workflow({ id: 'bitconnOutbound0', name: 'Bitconn: outbound receiver', nodes, connections, positions });
}

export function buildPack() {
  const files = { '00-all-flows.json': allFlows(), [OUTBOUND_FILE]: outboundReceiver() };
  FLOWS.forEach((flow, i) => {
    files[flow.file] = singleFlow(flow, i);
  });
  return files;
}

const render = (wf) => `${JSON.stringify(wf, null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = buildPack();
  if (process.argv.includes('--check')) {
    const stale = Object.entries(files).filter(([file, wf]) => {
      try {
        return readFileSync(join(PACK_DIR, file), 'utf8') !== render(wf);
      } catch {
        return true;
      }
    });
    const extra = readdirSync(PACK_DIR).filter((f) => /^\d\d-.*\.json$/.test(f) && !(f in files));
    if (stale.length || extra.length) {
      console.error(`docs/n8n is out of date (${[...stale.map(([f]) => f), ...extra].join(', ')}): run node tests/n8n/pack.mjs`);
      process.exit(1);
    }
  } else {
    for (const [file, wf] of Object.entries(files)) writeFileSync(join(PACK_DIR, file), render(wf));
  }
}
