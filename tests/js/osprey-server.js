// Start the real osprey binary for the TypeScript-client tests.
//
// The same recipe as tests/python/conftest.py: a temporary working directory
// holding storage and snapshots, free loopback ports for REST and gRPC, a
// random API key, GET /healthz until it answers 200, and SIGTERM to stop (a
// server that ignores SIGTERM fails the run). The binary is $OSPREY_BIN
// (default $CARGO_TARGET_DIR/debug/osprey, CARGO_TARGET_DIR defaulting to
// ~/.cache/osprey-target).
//
// This file is a helper, not a test file: `node --test tests/js/` only runs
// files named *.test.js.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;

export function binaryPath() {
  if (process.env.OSPREY_BIN) return process.env.OSPREY_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'osprey-target');
  return join(target, 'debug', 'osprey');
}

async function freePort() {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export class OspreyServer {
  /** @param {{ extraEnv?: Record<string, string>, apiKey?: string }} [options] */
  constructor({ extraEnv = {}, apiKey } = {}) {
    this.binary = binaryPath();
    this.extraEnv = extraEnv;
    this.apiKey = apiKey ?? 'js-' + randomBytes(16).toString('hex');
    this.dir = mkdtempSync(join(tmpdir(), 'osprey-js-'));
    this.proc = null;
    this.watchdog = null;
    this.starts = 0;
    // If the test process ends without close() (a crash), take the server and
    // its directory with it.
    this.onExit = () => {
      this.kill();
      rmSync(this.dir, { recursive: true, force: true });
    };
    process.once('exit', this.onExit);
  }

  get url() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  logPath() {
    return join(this.dir, `server-${this.starts}.log`);
  }

  logTail(lines = 40) {
    try {
      return readFileSync(this.logPath(), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * Starts the server. Free ports are found by binding port 0 and closing it,
   * so another process (a test file running in parallel, an outgoing
   * connection) can take one before osprey binds it: on a first start that
   * fails with "Address already in use", new ports are picked and it tries
   * again. Restarts keep their ports, since clients hold the URL.
   */
  async start() {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.startOnce();
        this.portsPinned = true;
        return;
      } catch (err) {
        const portTaken = /Address already in use/.test(String(err?.message));
        if (!portTaken || this.portsPinned || attempt >= 5) throw err;
        this.unguard();
        this.httpPort = undefined;
        this.grpcPort = undefined;
      }
    }
  }

  async startOnce() {
    if (this.proc) throw new Error('osprey is already running');
    if (!existsSync(this.binary)) {
      throw new Error(`osprey binary not found at ${this.binary}; build it or set OSPREY_BIN`);
    }
    this.httpPort ??= await freePort();
    this.grpcPort ??= await freePort();
    this.starts += 1;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QDRANT')));
    Object.assign(env, {
      QDRANT__SERVICE__HOST: '127.0.0.1',
      QDRANT__SERVICE__HTTP_PORT: String(this.httpPort),
      QDRANT__SERVICE__GRPC_PORT: String(this.grpcPort),
      QDRANT__STORAGE__STORAGE_PATH: join(this.dir, 'storage'),
      QDRANT__STORAGE__SNAPSHOTS_PATH: join(this.dir, 'snapshots'),
      QDRANT__SERVICE__API_KEY: this.apiKey,
      RUST_LOG: 'warn',
      ...this.extraEnv,
    });
    const log = openSync(this.logPath(), 'w');
    const proc = spawn(this.binary, [], { cwd: this.dir, env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.proc = proc;
    this.guard(proc.pid);
    let exited = null;
    proc.once('exit', (code, signal) => {
      exited = { code, signal };
      if (this.proc === proc) this.proc = null;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) {
        throw new Error(`osprey exited during start-up (${JSON.stringify(exited)}):\n${this.logTail()}`);
      }
      try {
        const res = await fetch(this.url + '/healthz', { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        this.kill();
        throw new Error(`osprey did not become healthy in ${START_TIMEOUT_MS} ms:\n${this.logTail()}`);
      }
      await sleep(50);
    }
  }

  /** Graceful stop with SIGTERM; a server that ignores it is an error. */
  async stop() {
    const proc = this.proc;
    if (!proc) return;
    const exited = new Promise((resolve) => proc.once('exit', () => resolve(true)));
    proc.kill('SIGTERM');
    const inTime = await Promise.race([exited, sleep(STOP_TIMEOUT_MS, false, { ref: false })]);
    if (!inTime) {
      proc.kill('SIGKILL');
      await exited;
      this.proc = null;
      this.unguard();
      throw new Error(`osprey ignored SIGTERM for ${STOP_TIMEOUT_MS} ms:\n${this.logTail()}`);
    }
    this.proc = null;
    this.unguard();
  }

  kill() {
    if (this.proc) {
      this.proc.kill('SIGKILL');
      this.proc = null;
    }
    this.unguard();
  }

  /**
   * A test process can also die without running any JavaScript: the test
   * runner SIGKILLs its file processes when it is itself cut off (e.g. its
   * output piped into `head`). A small watchdog process notices that its
   * parent (this process) is gone, then kills the orphaned server and removes
   * its directory. It goes away with the server or on close().
   */
  guard(serverPid) {
    this.unguard();
    const code = `
      const [parent, server, dir] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
      const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
      const timer = setInterval(() => {
        if (process.ppid === parent) { if (!alive(server)) process.exit(0); return; }
        clearInterval(timer);
        try { process.kill(server, 'SIGKILL'); } catch {}
        setTimeout(() => { require('node:fs').rmSync(dir, { recursive: true, force: true }); process.exit(0); }, 200);
      }, 250);`;
    this.watchdog = spawn(process.execPath, ['-e', code, String(process.pid), String(serverPid), this.dir], {
      stdio: 'ignore',
    });
    this.watchdog.unref();
  }

  unguard() {
    if (this.watchdog) {
      this.watchdog.kill('SIGKILL');
      this.watchdog = null;
    }
  }

  /** Stop (gracefully) and remove the temporary directory. */
  async close() {
    try {
      await this.stop();
    } finally {
      this.kill();
      rmSync(this.dir, { recursive: true, force: true });
      process.removeListener('exit', this.onExit);
    }
  }
}

/**
 * Await a client call that must fail and return the error it threw. The REST
 * client raises the fetcher's ApiError for every non-2xx answer, carrying
 * `status` and the parsed body as `data`.
 */
export async function refusal(call) {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded but was expected to be refused');
}

/** The body of a refused call as text (JSON bodies are stringified); the error itself if it had no response. */
export function bodyText(err) {
  if (err.data === undefined) return String(err?.stack ?? err);
  return typeof err.data === 'string' ? err.data : JSON.stringify(err.data);
}
