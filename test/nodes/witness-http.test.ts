import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { consistencyProof, leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { verifierKeyString } from '../../lib/note/note';
import { formatAddCheckpoint, MAX_REQUEST_BYTES } from '../../lib/witness';
import { MAX_ACTIVE_WITNESS_REQUESTS, MAX_WITNESS_REQUESTS_PER_CLIENT, witnessRequests } from '../../nodes/lib/witness-http';
import { endServedTest, helper, loadCapturingHttpNode, onTab, packNodes, startedTestRuntime } from './support';
import { listenLocally, type LocalServer } from '../support/local-server';
import { until } from '../support/until';

// The Witness node's HTTP endpoint (RED.httpNode: POST <path>/add-checkpoint, GET <path>/checkpoint)
// in a real Node-RED runtime, asked over a real HTTP connection by whoever can reach it.

/** What the runtime logged (the test helper's spy on RED.log.log); level 20 is an error. */
const logged = (): { level: number; id?: string }[] => (helper as unknown as { log(): { args: [{ level: number; id?: string }][] } }).log().args.map((a) => a[0]);

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

const POLL = { timeoutMs: 20_000, pollMs: 10 };

/** One request on its own connection (or the agent's); resolves with the answer, or rejects when the connection closes without one. */
function request(port: number, method: string, path: string, body?: Buffer | string, agent: http.Agent | false = false, from?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent, localAddress: from, headers: { 'content-type': 'text/plain' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One request with its answer's headers, from the client address `from` (any of 127.0.0.0/8 reaches a loopback server). */
function requestFrom(port: number, path: string, body: string, from: string): Promise<Answer & { headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, localAddress: from, headers: { 'content-type': 'text/plain' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A slow sender on a raw socket: the request's headers and the first bytes of a 1000-byte body,
 * then nothing. `answer` resolves with all the server sent once the connection closes.
 */
function slowSender(port: number, path: string, from: string): Promise<{ socket: net.Socket; answer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: witness\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nold 0\n\n`);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      const answer = new Promise<string>((done) => socket.once('close', () => done(Buffer.concat(chunks).toString('latin1'))));
      resolve({ socket, answer });
    });
    socket.once('error', reject);
  });
}

describe('Witness node over HTTP (Node-RED httpNode)', function () {
  this.timeout(30000);
  const PREFIX = '/witness-http-test';
  const ORIGIN = 'gw.example/http';
  const gw = generateKey('Ed25519');
  const leaves = Array.from({ length: 16 }, (_, i) => leafHash(Uint8Array.of(i)));
  const cp = (size: number) => signCheckpoint({ origin: ORIGIN, size, root: rootFromLeafHashes(leaves.slice(0, size)), extensions: [] }, ORIGIN, gw);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const catchNode = require('@node-red/nodes/core/common/25-catch.js') as unknown;
  let userDir: string;
  let server: LocalServer;
  let port: number;
  const post = (body: Buffer | string) => request(port, 'POST', `${PREFIX}/add-checkpoint`, body);

  before(async () => {
    userDir = await startedTestRuntime();
    const nodeApp = await loadCapturingHttpNode(
      [...packNodes(), catchNode],
      onTab([
        { id: 'w', type: 'iot-ledger-witness', keyName: 'witness.test/http', logs: verifierKeyString(ORIGIN, gw), prefix: PREFIX, wires: [['out']] },
        { id: 'out', type: 'helper' },
        { id: 'catch', type: 'catch', scope: ['w'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    server = await listenLocally(nodeApp);
    port = server.port;
  });
  after(() => endServedTest(server, userDir));

  it('answers add-checkpoint as C2SP tlog-witness says: 200 with the cosignature, 409 text/x.tlog.size, 400 for what does not parse', async () => {
    const ok = await post(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cp(4) }));
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /^\u2014 witness\.test\/http \S+\n$/);
    const stale = await post(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cp(6) }));
    assert.equal(stale.status, 409);
    assert.equal(stale.contentType, 'text/x.tlog.size');
    assert.equal(stale.body, '4\n');
    const garbage = await post('old 0\n\nnot a checkpoint\n');
    assert.equal(garbage.status, 400);
    const notUtf8 = await post(Buffer.concat([Buffer.from('old 0\n\n'), Buffer.from([0xff, 0xfe, 0x0a])]));
    assert.equal(notUtf8.status, 400);
    assert.equal(notUtf8.body, 'request body is not UTF-8\n');
    const latest = await request(port, 'GET', `${PREFIX}/checkpoint?origin=${encodeURIComponent(ORIGIN)}`);
    assert.equal(latest.status, 200);
    assert.equal(latest.body, `${cp(4)}${ok.body}`);
  });

  it(`reads at most ${MAX_REQUEST_BYTES} bytes of a body: a larger one has its connection closed, and the witness goes on answering`, async () => {
    const huge = `old 0\n\n${'x'.repeat(4 * MAX_REQUEST_BYTES)}`;
    await assert.rejects(post(huge), (err: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(String(err.code)) || /socket hang up/.test(err.message));
    const after = await post('old 0\n\nnot a checkpoint\n');
    assert.equal(after.status, 400);
  });

  it(`reads or handles at most ${MAX_ACTIVE_WITNESS_REQUESTS} add-checkpoint requests at once (${MAX_WITNESS_REQUESTS_PER_CLIENT} per address): slow senders beyond those are refused 503 at once`, async () => {
    const before = { ...witnessRequests.stats };
    const add = `${PREFIX}/add-checkpoint`;
    // 16 slow senders, 4 from each of 4 addresses, hold every turn.
    const addresses = Array.from({ length: MAX_ACTIVE_WITNESS_REQUESTS / MAX_WITNESS_REQUESTS_PER_CLIENT }, (_, i) => `127.0.5.${i + 1}`);
    const slow = await Promise.all(addresses.flatMap((a) => Array.from({ length: MAX_WITNESS_REQUESTS_PER_CLIENT }, () => slowSender(port, add, a))));
    try {
      await until('every turn taken', () => witnessRequests.stats.active === MAX_ACTIVE_WITNESS_REQUESTS, POLL);
      const overloaded = 'ERR_OVERLOADED: too many add-checkpoint requests at once; retry later\n';
      const full = await requestFrom(port, add, 'old 0\n\nnot a checkpoint\n', '127.0.5.100');
      assert.deepEqual([full.status, full.headers['retry-after'], full.headers['cache-control'], full.body], [503, '1', 'no-store', overloaded]);
      // The fifth request of one address is refused for its address.
      const fifth = await requestFrom(port, add, 'old 0\n\nnot a checkpoint\n', addresses[0]);
      assert.equal(fifth.status, 503);
      assert.equal(fifth.body, 'ERR_OVERLOADED: too many add-checkpoint requests from this address at once; retry later\n');
      assert.equal(witnessRequests.stats.refused - before.refused, 2);
      assert.equal(witnessRequests.stats.clients, addresses.length);
    } finally {
      for (const s of slow) s.socket.destroy();
    }
    // The senders gone, their turns are free and no address is left counted.
    await until('every turn given back', () => witnessRequests.stats.active === 0, POLL);
    assert.equal(witnessRequests.stats.clients, 0);
    const after = await requestFrom(port, add, 'old 0\n\nnot a checkpoint\n', '127.0.5.100');
    assert.equal(after.status, 400);
  });

  it('answers 408 and closes the connection of a body that has not arrived by the deadline, freeing its turn', async () => {
    const limits = witnessRequests.setLimits({ maxActive: 1, timeoutMs: 200 });
    const cut = witnessRequests.stats.cut;
    try {
      const add = `${PREFIX}/add-checkpoint`;
      const slow = await slowSender(port, add, '127.0.6.1');
      try {
        // The only turn is held by a sender that stopped: once its deadline is up it gets a 408.
        const answer = await slow.answer;
        assert.match(answer, /^HTTP\/1\.1 408 /);
        assert.match(answer, /\r\nconnection: close\r\n/i);
        assert.match(answer, /\r\n\r\nERR_WITNESS_REQUEST: the request body did not arrive within 0.2 s\n$/);
      } finally {
        slow.socket.destroy();
      }
      assert.equal(witnessRequests.stats.cut - cut, 1);
      await until('the turn given back', () => witnessRequests.stats.active === 0, POLL);
      assert.equal(witnessRequests.stats.clients, 0);
      const next = await requestFrom(port, add, 'old 0\n\nnot a checkpoint\n', '127.0.6.1');
      assert.equal(next.status, 400);
    } finally {
      witnessRequests.setLimits(limits);
    }
  });

  /**
   * `n` requests, 16 at a time on kept-alive connections, one from each of 16 addresses (so none
   * is refused for its address); resolves with their statuses.
   */
  async function flood(n: number, body: (i: number) => string): Promise<number[]> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      return (await Promise.all(Array.from({ length: n }, (_, i) => request(port, 'POST', `${PREFIX}/add-checkpoint`, body(i), agent, `127.0.7.${(i % 16) + 1}`)))).map((a) => a.status);
    } finally {
      agent.destroy();
    }
  }

  /** Collects what a helper node receives until `stop` is called. */
  function collect<T>(id: string): { got: T[]; stop(): void } {
    const got: T[] = [];
    const on = (m: never): number => got.push(m);
    helper.getNode(id).on('input', on);
    return { got, stop: () => helper.getNode(id).removeListener('input', on) };
  }

  it('puts at most 100 answered requests a second on its output in a flood, the rest counted in the next message; a new cosigned checkpoint always goes out', async () => {
    type Out = { payload: { status: number; size?: number; unreported?: number } };
    const out = collect<Out>('out');
    try {
      const n = 1000;
      const stranger = generateKey('Ed25519');
      const unknown = signCheckpoint({ origin: 'someone.else/log', size: 1, root: leaves[0], extensions: [] }, 'someone.else/log', stranger);
      // What anyone can send: garbage (400), an invented origin (404), the cosigned checkpoint again (200).
      const bodies = ['old 0\n\nnot a checkpoint\n', formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: unknown }), formatAddCheckpoint({ oldSize: 4, proof: [], checkpoint: cp(4) })];
      const statuses = await flood(n, (i) => bodies[i % 3]);
      assert.deepEqual([...new Set(statuses)].sort(), [200, 400, 404]);
      const next = await post(formatAddCheckpoint({ oldSize: 4, proof: consistencyProof(leaves, 4, 6), checkpoint: cp(6) }));
      assert.equal(next.status, 200, next.body);
      await until('the new checkpoint on the output', () => out.got.some((m) => m.payload.status === 200 && m.payload.size === 6), POLL);
      const during = out.got.length - 1;
      assert.ok(during >= 100 && during < n, `${during} of ${n} requests put on the output`);
      // Nothing lost from the count: each message stands for itself and the ones left out before it.
      assert.equal(
        out.got.reduce((sum, m) => sum + 1 + (m.payload.unreported ?? 0), 0),
        n + 1,
      );
    } finally {
      out.stop();
    }
  });

  it('answers GET checkpoint for a request target in absolute form whose URL WHATWG refuses (a port past 65535): no 500 with a stack trace', async () => {
    // Express routes `http://host:99999/<prefix>/checkpoint` by its path; new URL() throws on its port.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.end(`GET http://witness:99999${PREFIX}/checkpoint?origin=${encodeURIComponent(ORIGIN)} HTTP/1.1\r\nHost: witness\r\nConnection: close\r\n\r\n`);
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.once('error', reject);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 /, raw);
    assert.doesNotMatch(body, /TypeError|Invalid URL|\bat /, raw);
    assert.equal(body, (await request(port, 'GET', `${PREFIX}/checkpoint?origin=${encodeURIComponent(ORIGIN)}`)).body);
  });

  it('answers 500 with the error code only when its state cannot be read: nothing about the file in the body', async () => {
    const dir = path.join(userDir, 'iot-ledger', 'witness', 'witness.test_http');
    const file = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.json'))!);
    const kept = fs.readFileSync(file);
    fs.writeFileSync(file, '{"origin": "gw.example/http", "size": 4, "root": "secret-ish internals');
    try {
      const latest = await request(port, 'GET', `${PREFIX}/checkpoint?origin=${encodeURIComponent(ORIGIN)}`);
      assert.equal(latest.status, 500);
      assert.equal(latest.body, 'ERR_WITNESS_STATE\n');
      const add = await post(formatAddCheckpoint({ oldSize: 6, proof: [], checkpoint: cp(6) }));
      assert.equal(add.status, 500);
      assert.equal(add.body, 'ERR_WITNESS_STATE\n');
      // The log's public checkpoint sent again and again: each is a 500, at most 100 a second are logged.
      const errors = (): number => logged().filter((e) => e.id === 'w' && e.level === 20).length;
      const before = errors();
      const n = 1000;
      const statuses = await flood(n, () => formatAddCheckpoint({ oldSize: 6, proof: [], checkpoint: cp(6) }));
      assert.deepEqual([...new Set(statuses)], [500]);
      const reported = errors() - before;
      assert.ok(reported >= 100 && reported < n, `${reported} of ${n} failures logged`);
    } finally {
      fs.writeFileSync(file, kept);
    }
    assert.equal((await request(port, 'GET', `${PREFIX}/checkpoint?origin=${encodeURIComponent(ORIGIN)}`)).status, 200);
  });
});

// Middleware before the witness's route that reads the request body. Node-RED adds
// httpNodeMiddleware and its body parsers to HTTP In routes only, but the body can be read
// before the witness all the same: by a body parser in settings.httpNodeAuth (an array, which
// red.js mounts before RED.httpNode, as here), in the app Node-RED is embedded in, one that
// another package puts on httpNode, or Node-RED's raw body capture for an HTTP In node with
// "Do not parse the body" at the witness's path (mounted on httpNode itself, for every route).
describe('Witness node over HTTP behind middleware that reads the body', function () {
  this.timeout(30000);
  const PREFIX = '/witness-parsed';
  const ORIGIN = 'gw.example/parsed';
  const gw = generateKey('Ed25519');
  const leaves = Array.from({ length: 8 }, (_, i) => leafHash(Uint8Array.of(i)));
  const cp = (size: number) => signCheckpoint({ origin: ORIGIN, size, root: rootFromLeafHashes(leaves.slice(0, size)), extensions: [] }, ORIGIN, gw);
  // The express Node-RED itself uses (settings.js would require it the same way).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = require(require.resolve('express', { paths: [require.resolve('node-red')] })) as {
    (): http.RequestListener & { use(path: string, ...h: unknown[]): void };
    text(o: object): Middleware;
    raw(o: object): Middleware;
    json(o?: object): Middleware;
    urlencoded(o: object): Middleware;
  };
  type Middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: (err?: unknown) => void) => void;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const httpIn = require('@node-red/nodes/core/network/21-httpin.js') as unknown;
  const all = (): boolean => true;
  /** The body parser each request asks for in its x-parse header. */
  const parsers: Record<string, Middleware> = {
    text: express.text({ type: all, limit: '1mb' }),
    raw: express.raw({ type: all, limit: '1mb' }),
    form: express.urlencoded({ type: all, extended: false }),
    // text/plain is not JSON: body-parser leaves req.body {} and the stream unread.
    json: express.json(),
    // Reads the stream to its end and keeps nothing (a logger, a signature check).
    drain: (req, _res, next) => {
      req.on('data', () => undefined);
      req.on('end', () => next());
    },
  };
  const httpNodeAuth: Middleware[] = [(req, res, next) => (parsers[String(req.headers['x-parse'])] ?? ((_q, _s, n) => n()))(req, res, next)];
  let userDir: string;
  let server: LocalServer;
  let port: number;

  /** POST with a content type and parser; rejects after 3 s rather than waiting for the server's timeout. */
  function post(path: string, body: Buffer | string, parse: string, contentType = 'text/plain'): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': contentType, 'x-parse': parse } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.setTimeout(3000, () => {
        req.destroy();
        reject(new Error(`no answer within 3 s (x-parse: ${parse})`));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  before(async () => {
    userDir = await startedTestRuntime();
    const nodeApp = await loadCapturingHttpNode(
      [...packNodes(), httpIn],
      onTab([
        { id: 'w', type: 'iot-ledger-witness', keyName: 'witness.test/parsed', logs: verifierKeyString(ORIGIN, gw), prefix: PREFIX, wires: [[]] },
        { id: 'w2', type: 'iot-ledger-witness', keyName: 'witness.test/raw', logs: verifierKeyString(ORIGIN, gw), prefix: `${PREFIX}-raw`, wires: [[]] },
        // Only its body capture matters: the witness, deployed first, answers at this path.
        { id: 'in', type: 'http in', url: `${PREFIX}-raw/add-checkpoint`, method: 'post', skipBodyParsing: true, wires: [[]] },
      ]),
    );
    // As red.js mounts them: settings.httpNodeAuth, then RED.httpNode.
    const app = express();
    app.use('/', httpNodeAuth);
    app.use('/', nodeApp);
    server = await listenLocally(app);
    port = server.port;
  });
  after(() => endServedTest(server, userDir));

  it('uses a body read as text or bytes (within the same bound) and answers 400 at once for one read into anything else', async () => {
    const add = `${PREFIX}/add-checkpoint`;
    assert.equal((await post(add, formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cp(4) }), 'text')).status, 200);
    // The checkpoint held, sent again, is cosigned again.
    const again = formatAddCheckpoint({ oldSize: 4, proof: [], checkpoint: cp(4) });
    for (const parse of ['raw', 'json', 'none']) {
      const r = await post(add, again, parse);
      assert.equal(r.status, 200, `${parse}: ${r.body}`);
    }
    const next = formatAddCheckpoint({ oldSize: 4, proof: consistencyProof(leaves, 4, 6), checkpoint: cp(6) });
    for (const parse of ['form', 'drain']) {
      const r = await post(add, next, parse);
      assert.equal(r.status, 400, `${parse}: ${r.body}`);
      assert.match(r.body, /read before the witness/);
    }
    // What a parser read past MAX_REQUEST_BYTES, or bytes that are not UTF-8, are refused as if sent to the witness.
    const huge = `old 0\n\n${'x'.repeat(MAX_REQUEST_BYTES + 1)}`;
    for (const parse of ['text', 'raw']) assert.deepEqual(await post(add, huge, parse), { status: 400, contentType: 'text/plain; charset=utf-8', body: 'request body is too large\n' });
    assert.equal((await post(add, Buffer.from([0x6f, 0x6c, 0x64, 0x20, 0xff, 0x0a]), 'raw')).body, 'request body is not UTF-8\n');
    // Still the witness's own reading without a parser, and still at size 4.
    assert.equal((await post(add, next, 'none')).status, 200);
  });

  it("uses the bytes Node-RED's raw body capture read for an HTTP In node with body parsing off at the same path", async () => {
    const r = await post(`${PREFIX}-raw/add-checkpoint`, formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cp(4) }), 'none', 'application/octet-stream');
    assert.equal(r.status, 200, r.body);
    const huge = await post(`${PREFIX}-raw/add-checkpoint`, `old 0\n\n${'x'.repeat(MAX_REQUEST_BYTES + 1)}`, 'none', 'application/octet-stream');
    assert.equal(huge.body, 'request body is too large\n');
  });
});
