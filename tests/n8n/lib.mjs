// Helpers of the n8n pack test (run.mjs): child processes, free ports, JSON-RPC to the simulator.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The n8n that scripts/ensure-n8n.sh installs. */
export const N8N = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'n8n');

/** n8n isolated in `userFolder`, silent towards the network: no telemetry, version checks, templates or community nodes. */
export function isolatedN8nEnv(userFolder, { port, brokerPort }) {
  return {
    N8N_USER_FOLDER: userFolder,
    N8N_PORT: String(port ?? 5678),
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'false',
    N8N_UNVERIFIED_PACKAGES_ENABLED: 'false',
    N8N_AI_ENABLED: 'false',
    N8N_HIRING_BANNER_ENABLED: 'false',
    N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
    N8N_DIAGNOSTICS_CONFIG_FRONTEND: '',
    N8N_DIAGNOSTICS_CONFIG_BACKEND: '',
    EXTERNAL_FRONTEND_HOOKS_URLS: '',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
    N8N_SECURE_COOKIE: 'false',
    NODE_FUNCTION_ALLOW_BUILTIN: 'crypto',
    N8N_LOG_LEVEL: 'warn',
    DB_SQLITE_POOL_SIZE: '2',
    // Every n8n process (execute too) listens for its task runner: on a port of ours, not n8n's fixed 5679.
    N8N_RUNNERS_BROKER_PORT: String(brokerPort),
  };
}

/** Longest any single step (a process start, an n8n execution, a delivery) may take. */
export const STEP_TIMEOUT_MS = 180_000;

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command to its end (killed after `timeoutMs`); resolves with its exit code and output. */
export function run(cmd, args, { env, timeoutMs = STEP_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? `killed (${signal})` : code, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; returns its stdout. */
export async function runOk(cmd, args, options) {
  const r = await run(cmd, args, options);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A long-running child whose output is kept; `waitFor(re)` resolves with the first match on stdout/stderr. */
export class Service {
  constructor(name, cmd, args, env) {
    this.name = name;
    this.output = '';
    this.child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    for (const stream of [this.child.stdout, this.child.stderr]) stream.on('data', (d) => (this.output += d));
  }

  async waitFor(re, timeoutMs = STEP_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = this.output.match(re);
      if (m) return m;
      if (this.child.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`${this.name}: no ${re} within ${timeoutMs} ms (exit ${this.child.exitCode})\n${this.output}`);
  }

  async stop() {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually(what, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `execute_kw` on the simulator as its admin, independent of the gateway under test. */
export function odoo(simUrl) {
  return async (model, method, args, kwargs = {}) => {
    const response = await fetch(`${simUrl}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'call',
        id: 1,
        params: { service: 'object', method: 'execute_kw', args: ['odoo18', 2, 'sim-admin-api-key', model, method, args, kwargs] },
      }),
    });
    const answer = await response.json();
    if (answer.error) throw new Error(`odoo ${model}.${method}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  };
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

export function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}
