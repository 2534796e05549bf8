// Runs the docs/n8n pack in real n8n against `bitconn serve` and the Odoo simulator: every branch of the
// all-flows workflow and every single-flow file headless (`n8n execute-batch`, one more with `n8n execute --id`),
// checking in Odoo what each created or changed; three runs that must stop; then the outbound receiver under
// `n8n start`: a forged and a replayed delivery refused, one signed delivery from the gateway acted on.
// Usage: node tests/n8n/run.mjs <bin dir with bitconn and odoo-sim>. Exits non-zero when anything fails.
import { createHmac } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CREDENTIAL, FLOWS, OUTBOUND_FILE, OUTBOUND_PATH, PACK_DIR, buildPack } from './pack.mjs';
import { N8N, STEP_TIMEOUT_MS, Service, assert, assertEqual, eventually, freePort, isolatedN8nEnv, odoo, run, runOk } from './lib.mjs';
import { CHECKS, variantConfig } from './checks.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = process.argv[2];
const WORK = join(HERE, '.run');
/** Models and methods the pack's webhook needs (docs/n8n/README.md creates the same). */
const MODELS = 'res.partner,crm.lead,sale.order,sale.order.line,product.product,account.move,account.move.line,discuss.channel';
const ALLOW_CALL = '*:message_post';

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const services = [];

let brokerPort;
const n8nEnv = (port) => isolatedN8nEnv(join(WORK, 'n8n'), { port, brokerPort });
const n8nOk = (args) => runOk(N8N, args, { env: n8nEnv() });

function bitconn(args, env) {
  return runOk(join(BIN, 'bitconn'), ['--store', `sqlite:${join(WORK, 'bitconn.db')}`, ...args], { env });
}

/** `bitconn outbound …` when the CLI has it at the top level, else `bitconn webhook outbound …`. */
async function outboundCommand() {
  const help = await runOk(join(BIN, 'bitconn'), ['--help']);
  return /^\s+outbound\b/m.test(help) ? ['outbound'] : ['webhook', 'outbound'];
}

/** A copy of a pack workflow for this run: its own id, and Config values replaced. */
function variant(workflow, id, values) {
  const copy = structuredClone(workflow);
  copy.id = id;
  const config = copy.nodes.find((node) => node.name === 'Config');
  for (const assignment of config.parameters.assignments.assignments) {
    if (assignment.name in values) assignment.value = values[assignment.name];
  }
  const missing = Object.keys(values).filter((k) => !config.parameters.assignments.assignments.some((a) => a.name === k));
  assert(missing.length === 0, `${workflow.name}: Config has no ${missing.join(', ')}`);
  return copy;
}

/** `n8n execute --id`: the execution's result on success, the error text otherwise. */
async function execute(id) {
  // The result is logged at level info, after n8n's own lines.
  const r = await run(N8N, ['execute', `--id=${id}`, '--rawOutput'], { env: { ...n8nEnv(), N8N_LOG_LEVEL: 'info' } });
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.code !== 0) return { ok: false, output: `${output}\n(exit ${r.code})` };
  try {
    // n8n may log more lines after the result (its task runner registering): the result is the first line
    // that opens an object through the last line that closes one.
    const start = r.stdout.search(/^\{/m);
    const end = r.stdout.lastIndexOf('\n}') + 2;
    return { ok: true, output, result: JSON.parse(r.stdout.slice(start, end)) };
  } catch {
    return { ok: false, output: `${output}\n(exit 0, but no execution result on stdout)` };
  }
}

/**
 * `n8n execute-batch` over `ids`, one after the other in id order; a map from id to `{ ok, error, result, seconds }`
 * with the execution's data (`result`, the shape `n8n execute` prints) from its snapshot file.
 */
async function executeBatch(ids) {
  const sorted = [...ids].sort();
  assertEqual(ids, sorted, 'batch ids (execute-batch runs them in id order)');
  const output = join(WORK, 'batch.json');
  const snapshots = join(WORK, 'snapshots');
  mkdirSync(snapshots, { recursive: true });
  const r = await run(N8N, ['execute-batch', `--ids=${ids.join(',')}`, `--output=${output}`, `--snapshot=${snapshots}`,
    '--retries=0', '--concurrency=1'], { env: n8nEnv(), timeoutMs: 5 * STEP_TIMEOUT_MS });
  let report;
  try {
    report = JSON.parse(readFileSync(output, 'utf8'));
  } catch {
    throw new Error(`n8n execute-batch wrote no report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  assertEqual(report.executions.map((e) => e.workflowId), ids, 'order in which execute-batch ran the workflows');
  return new Map(report.executions.map((e) => {
    const ok = e.executionStatus === 'success';
    const result = ok ? JSON.parse(readFileSync(join(snapshots, `${e.workflowId}-snapshot.json`), 'utf8')) : undefined;
    return [e.workflowId, { ok, error: e.error ?? '', result, seconds: e.executionTime }];
  }));
}

/** The JSON the named node output in an execution result. */
function nodeOutput(result, node) {
  const runs = result.data.resultData.runData[node];
  assert(runs, `node ${node} did not run`);
  return runs[0].data.main.flat().map((item) => item.json);
}

async function main() {
  assert(BIN, 'usage: node tests/n8n/run.mjs <directory with the bitconn and odoo-sim binaries>');
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const pack = buildPack();
  for (const [file, workflow] of Object.entries(pack)) {
    assertEqual(JSON.parse(readFileSync(join(PACK_DIR, file), 'utf8')), workflow, `docs/n8n/${file} (run node tests/n8n/pack.mjs)`);
  }

  // The simulator, a webhook on it with an outbound target at the n8n started below, and the gateway.
  const sim = new Service('odoo-sim', join(BIN, 'odoo-sim'), ['--listen', '127.0.0.1:0']);
  services.push(sim);
  const simUrl = (await sim.waitFor(/listening on (http:\/\/\S+)/))[1];
  const rpc = odoo(simUrl);
  const created = JSON.parse(
    await bitconn(
      ['--json', 'webhook', 'create', '--name', 'n8n pack', '--odoo-url', simUrl, '--odoo-db', 'odoo18', '--odoo-login', 'admin',
        '--models', MODELS, '--allow-call', ALLOW_CALL],
      { BITCONN_ODOO_API_KEY: 'sim-admin-api-key' },
    ),
  );
  const n8nPort = await freePort();
  brokerPort = await freePort();
  const outbound = await outboundCommand();
  await bitconn([...outbound, 'set', created.id, '--url', `http://127.0.0.1:${n8nPort}/webhook/${OUTBOUND_PATH}`,
    '--allow-cidr', '127.0.0.0/8', '--fields', 'id,name,email', '--retry', '1s,1s']);
  const { signing_secret: signingSecret } = JSON.parse(await bitconn(['--json', ...outbound, 'rotate-secret', created.id]));
  const gateway = new Service('bitconn serve', join(BIN, 'bitconn'),
    ['--store', `sqlite:${join(WORK, 'bitconn.db')}`, '--json', 'serve', '--listen', '127.0.0.1:0', '--no-demo']);
  services.push(gateway);
  const baseUrl = JSON.parse((await gateway.waitFor(/^\{"listening".*$/m))[0]).listening;
  console.log(`gateway ${baseUrl}, simulator ${simUrl}, webhook ${created.id} (${elapsed()})`);

  // The credential, then one workflow per branch run: the all-flows workflow with Config.flow set, each single-flow file.
  writeFileSync(join(WORK, 'credential.json'), JSON.stringify([{
    ...CREDENTIAL, type: 'httpHeaderAuth', data: { name: 'Authorization', value: `Bearer ${created.secret}` },
  }]));
  await n8nOk(['import:credentials', `--input=${join(WORK, 'credential.json')}`]);
  const runs = [];
  for (const [v, source] of [['all', null], ['single', 'file']]) {
    FLOWS.forEach((flow, i) => {
      const values = { base_url: baseUrl, webhook_id: created.id, ...variantConfig(v, flow.key) };
      const workflow = source ? pack[flow.file] : pack['00-all-flows.json'];
      if (!source) values.flow = flow.key;
      const id = `test${v}${String(i + 1).padStart(2, '0')}`;
      runs.push({ id, v, flow: flow.key, values, workflow: variant(workflow, id, values) });
    });
  }
  const stops = [
    { id: 'teststop01', flow: 'create_sale_order', values: { partner_email: 'nobody@example.com' },
      message: 'No order was created: no partner has the email nobody@example.com (exactly one of each is needed).' },
    { id: 'teststop02', flow: 'post_channel_message', values: { channel_name: 'no-such-channel' },
      message: 'No message was posted: no channel has the name no-such-channel (exactly one is needed).' },
    { id: 'teststop03', flow: 'no_such_flow', values: {}, message: 'Unknown flow "no_such_flow"' },
  ].map((stop) => ({
    ...stop,
    workflow: variant(pack['00-all-flows.json'], stop.id,
      { ...variantConfig('all', stop.flow), ...stop.values, base_url: baseUrl, webhook_id: created.id, flow: stop.flow }),
  }));
  const cliValues = { ...variantConfig('cli', 'create_lead'), base_url: baseUrl, webhook_id: created.id, flow: 'create_lead' };
  const cliRun = { id: 'testcli01', flow: 'create_lead', values: cliValues, workflow: variant(pack['00-all-flows.json'], 'testcli01', cliValues) };
  const ordersBefore = await rpc('sale.order', 'search_count', [[]]);
  const outboundWorkflow = variant(pack[OUTBOUND_FILE], 'testoutbound', { base_url: baseUrl, webhook_id: created.id, signing_secret: signingSecret });
  mkdirSync(join(WORK, 'workflows'));
  for (const { id, workflow } of [...runs, ...stops, cliRun, { id: 'testoutbound', workflow: outboundWorkflow }]) {
    writeFileSync(join(WORK, 'workflows', `${id}.json`), JSON.stringify(workflow));
  }
  await n8nOk(['import:workflow', '--separate', `--input=${join(WORK, 'workflows')}`]);
  console.log(`n8n: ${runs.length + stops.length + 2} workflows imported (${elapsed()})`);

  // One `n8n execute-batch` runs the branches in id order (all-flows runs, single-flow runs, stops): one n8n start-up
  // instead of one per run. `n8n execute --id` then runs one more branch exactly as docs/n8n/README.md does.
  const failures = [];
  const batch = await executeBatch([...runs, ...stops].map((r) => r.id));
  const context = { rpc, v: {} };
  for (const r of runs) {
    try {
      const outcome = batch.get(r.id);
      assert(outcome?.ok, `n8n failed: ${outcome?.error}`);
      const what = await CHECKS[r.flow]({ ...context, values: r.values, result: outcome.result, nodeOutput });
      console.log(`ok   ${r.v.padEnd(6)} ${r.flow.padEnd(24)} ${what} (${outcome.seconds} s)`);
    } catch (error) {
      failures.push(`${r.v} ${r.flow}`);
      console.log(`FAIL ${r.v.padEnd(6)} ${r.flow.padEnd(24)} ${error.message}`);
    }
  }
  for (const s of stops) {
    try {
      const outcome = batch.get(s.id);
      assert(outcome && !outcome.ok, 'the workflow succeeded');
      assert(outcome.error.includes(s.message), `no "${s.message}" in: ${outcome.error}`);
      console.log(`ok   stop   ${s.flow.padEnd(24)} stopped: ${outcome.error}`);
    } catch (error) {
      failures.push(`stop ${s.flow}`);
      console.log(`FAIL stop   ${s.flow.padEnd(24)} ${error.message}`);
    }
  }
  assertEqual(await rpc('sale.order', 'search_count', [[]]), ordersBefore + 2, 'sale orders created (one per create_sale_order run, none by a stop)');
  try {
    const cli = await execute(cliRun.id);
    assert(cli.ok, `n8n execute failed:\n${cli.output.slice(-3000)}`);
    const what = await CHECKS[cliRun.flow]({ ...context, values: cliRun.values, result: cli.result, nodeOutput });
    console.log(`ok   execute ${cliRun.flow.padEnd(23)} ${what} (n8n execute --id=${cliRun.id})`);
  } catch (error) {
    failures.push('n8n execute');
    console.log(`FAIL execute ${cliRun.flow.padEnd(23)} ${error.message}`);
  }
  console.log(`n8n: ${runs.length + stops.length + 1} runs done (${elapsed()})`);

  try {
    await outboundDelivery({ rpc, baseUrl, created, n8nPort, signingSecret });
  } catch (error) {
    failures.push('outbound receiver');
    console.log(`FAIL outbound receiver: ${error.message}`);
  }
  console.log(`n8n pack: ${failures.length ? `${failures.length} FAILED (${failures.join(', ')})` : 'every branch passed'} in ${elapsed()}`);
  return failures.length === 0;
}

/** The outbound receiver active in `n8n start`: a forged and a replayed delivery refused, a real signed one acted on. */
async function outboundDelivery({ rpc, baseUrl, created, n8nPort, signingSecret }) {
  await n8nOk(['publish:workflow', '--id=testoutbound']);
  const server = new Service('n8n start', N8N, ['start'], { ...n8nEnv(n8nPort), N8N_LOG_LEVEL: 'info' });
  services.push(server);
  await server.waitFor(/Activated workflow "Bitconn: outbound receiver"|Editor is now accessible/, 120_000);
  const hook = `http://127.0.0.1:${n8nPort}/webhook/${OUTBOUND_PATH}`;
  await eventually('the receiver webhook to be registered', async () => {
    const r = await fetch(hook, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }).catch(() => null);
    return r && r.status !== 404 ? r : null;
  }, 60_000);

  // A forged delivery: well-formed headers, a wrong signature. Refused, and nothing is posted.
  const [partner] = await rpc('res.partner', 'search_read', [[['email', '=', 'info@agrolait.com']]], { fields: ['id'] });
  const messages = () => rpc('mail.message', 'search_read', [[['model', '=', 'res.partner'], ['res_id', '=', partner.id]]], { fields: ['body'] });
  const before = (await messages()).length;
  const forged = JSON.stringify({ model: 'res.partner', count: 1, records: [{ id: partner.id }], event: 'forged' });
  const now = Math.floor(Date.now() / 1000);
  const refused = await fetch(hook, {
    method: 'POST',
    body: forged,
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_forged', 'webhook-timestamp': String(now),
      'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}` },
  });
  assertEqual(refused.status, 401, 'status of a forged delivery');
  assertEqual((await refused.json()).reason, 'no signature matches', 'reason given for a forged delivery');
  // A correctly signed delivery from ten minutes ago (a replay): refused on its timestamp.
  const old = String(now - 600);
  const key = Buffer.from(signingSecret.slice('whsec_'.length), 'base64');
  const signature = createHmac('sha256', key).update(`msg_replayed.${old}.${forged}`).digest('base64');
  const replayed = await fetch(hook, {
    method: 'POST',
    body: forged,
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_replayed', 'webhook-timestamp': old, 'webhook-signature': `v1,${signature}` },
  });
  assertEqual([replayed.status, (await replayed.json()).reason], [401, 'webhook-timestamp is not within the tolerance'], 'answer to a replayed delivery');

  // A real one: Bitconn's trigger route queues it, the dispatcher signs and delivers it, the receiver posts a note.
  const trigger = await fetch(`${baseUrl}/bitconn/outbound/${created.id}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${created.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'res.partner', ids: [partner.id], event: 'partner.changed' }),
  });
  const queued = await trigger.json();
  assertEqual(trigger.status, 202, `trigger answer ${JSON.stringify(queued)}`);
  const note = `<p>n8n received partner.changed (${queued.event_id})</p>`;
  await eventually(`the note ${note} on partner ${partner.id}`, async () => (await messages()).some((m) => m.body === note), 45_000);
  const after = await messages();
  assertEqual(after.length, before + 1, 'messages on the partner (the forged delivery posted nothing, the real one one note)');
  console.log(`ok   outbound receiver: forged and replayed deliveries 401, signed delivery ${queued.event_id} posted a note on res.partner ${partner.id}`);
}

main()
  .then((ok) => (process.exitCode = ok ? 0 : 1))
  .catch((error) => {
    console.error(`n8n pack test failed: ${error.stack ?? error}`);
    for (const s of services) console.error(`--- ${s.name} output (last 3000 characters)\n${s.output.slice(-3000)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const s of services.reverse()) await s.stop();
  });
