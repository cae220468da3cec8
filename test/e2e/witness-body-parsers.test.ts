import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { verifierKeyString } from '../../lib/note/note';
import { formatAddCheckpoint } from '../../lib/witness';
import { NodeRedProcess } from '../../demo/nodered/process';
import { ensureCredentialSecret, settingsSource } from '../../demo/nodered/settings';
import { createUserDir, linkIntoUserDir, seedFlows } from '../../demo/nodered/userdir';
import { projectRoot } from '../support/paths';
import { scratchDir } from '../support/e2e';

// A Witness node in a real Node-RED with its default roots: httpAdminRoot and httpNodeRoot are
// both "/", and red.js mounts the admin app first. Its body parsers (application/json and
// application/x-www-form-urlencoded, up to apiMaxLength, 5 MB) run for every request under its
// root, before any httpNode route. A witness POST is the witness's to read, whatever its content
// type: within 64 KiB, its turns and its 10 s deadline.

const MIB = 1024 * 1024;
const TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/plain', undefined];

interface Sent {
  /** All the server sent before the connection closed. */
  answer: string;
  /** Body bytes the socket took before it closed (or the sender stopped). */
  written: number;
  /** True when the server closed the connection, false when the sender reached `maxBytes` first. */
  closed: boolean;
}

/**
 * A POST on a raw socket whose body is `chunk` repeated until the connection closes or `maxBytes`
 * are written (chunked when `contentLength` is not given). Resolves once the connection closed.
 */
function pour(port: number, path: string, contentType: string | undefined, chunk: Buffer, maxBytes: number, contentLength?: number): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const received: Buffer[] = [];
    let written = 0;
    let stopped = false;
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', (err) => (written === 0 && !socket.remoteAddress ? reject(err) : undefined));
    socket.once('close', () => resolve({ answer: Buffer.concat(received).toString('latin1'), written, closed: !stopped }));
    socket.once('connect', () => {
      const head = [`POST ${path} HTTP/1.1`, 'Host: witness', 'Connection: close', ...(contentType ? [`Content-Type: ${contentType}`] : [])];
      head.push(contentLength === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${contentLength}`);
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      const framed = contentLength === undefined ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
      const more = (): void => {
        while (!socket.destroyed && written < maxBytes) {
          written += chunk.length;
          if (!socket.write(framed)) {
            socket.once('drain', more);
            return;
          }
        }
        if (socket.destroyed || contentLength !== undefined) return;
        // The endless body reached maxBytes without the server closing: the sender stops.
        stopped = true;
        socket.destroy();
      };
      more();
    });
  });
}

/**
 * A POST from the address `from` whose headers and first bytes of 1000 arrive and then nothing,
 * or with `body` the whole of it; `answer` resolves with all the server sent once it closes.
 */
function rawPost(port: number, path: string, contentType: string, from: string, body?: string): Promise<{ socket: net.Socket; answer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => {
      const length = body === undefined ? 1000 : Buffer.byteLength(body);
      socket.write(`POST ${path} HTTP/1.1\r\nHost: witness\r\nConnection: close\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n${body ?? 'old 0\n\n'}`);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      resolve({ socket, answer: new Promise((done) => socket.once('close', () => done(Buffer.concat(chunks).toString('latin1')))) });
    });
    socket.once('error', reject);
  });
}

const ORIGIN = 'parsers.e2e.example';
const gw = generateKey('Ed25519');
const leaves = Array.from({ length: 8 }, (_, i) => leafHash(Uint8Array.of(i)));
const cp = (size: number) => signCheckpoint({ origin: ORIGIN, size, root: rootFromLeafHashes(leaves.slice(0, size)), extensions: [] }, ORIGIN, gw);

/** Node-RED with a Witness node at /witness, and `settings` added to its settings.js. */
async function startWitness(settings = ''): Promise<NodeRedProcess> {
  const dir = createUserDir(scratchDir('witness-parsers'));
  linkIntoUserDir(dir, projectRoot);
  seedFlows(dir, [
    { id: 't', type: 'tab', label: 'witness' },
    { id: 'w', type: 'iot-ledger-witness', z: 't', keyName: 'w.parsers', logs: verifierKeyString(ORIGIN, gw), prefix: '/witness', wires: [[]] },
  ]);
  fs.writeFileSync(path.join(dir, 'settings.js'), settingsSource({ logLevel: 'warn' }).replace(/\n};\n$/, `\n${settings}};\n`));
  ensureCredentialSecret(dir);
  return NodeRedProcess.start({ userDir: dir, writeSettings: false });
}

describe("e2e: witness POSTs and Node-RED's admin body parsers (both roots /)", function () {
  this.timeout(180_000);
  let nr: NodeRedProcess | undefined;
  let add = '';

  before(async () => {
    nr = await startWitness();
    add = `${nr.url}/witness/add-checkpoint`;
  });
  after(async () => {
    await nr?.kill();
  });

  it('reads a checkpoint sent as application/json or x-www-form-urlencoded itself (the admin parsers leave it)', async () => {
    for (const [type, body] of [
      ['application/json', formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cp(4) })],
      ['application/x-www-form-urlencoded', formatAddCheckpoint({ oldSize: 4, proof: [], checkpoint: cp(4) })],
      ['application/json; charset=utf-8', formatAddCheckpoint({ oldSize: 4, proof: [], checkpoint: cp(4) })],
    ] as const) {
      const r = await fetch(add, { method: 'POST', headers: { 'content-type': type }, body });
      const text = await r.text();
      assert.equal(r.status, 200, `${type}: ${text}`);
      assert.match(text, /^\u2014 w\.parsers \S+\n$/);
    }
    // JSON is no request body: the witness's own 400, not the admin parser's.
    const json = await fetch(add, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"old":0}' });
    assert.equal(json.status, 400);
    assert.equal(json.headers.get('content-type'), 'text/plain; charset=utf-8');
  });

  it('closes the connection of a 10 MB body (Content-Length) without answering, whatever its content type', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (const type of TYPES) {
      const sent = await pour(nr!.port, '/witness/add-checkpoint', type, chunk, 10 * MIB, 10 * MIB);
      assert.equal(sent.answer, '', `${type ?? 'no content type'}: answered ${sent.answer.split('\r\n')[0]}`);
      assert.equal(sent.closed, true, `${type ?? 'no content type'}: not closed`);
    }
  });

  it('closes the connection of an endless chunked body, not reading it on (5 MB kept, the rest thrown away)', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (const type of TYPES) {
      const sent = await pour(nr!.port, '/witness/add-checkpoint', type, chunk, 64 * MIB);
      assert.equal(sent.closed, true, `${type ?? 'no content type'}: the server took ${sent.written} bytes and did not close (answer: ${sent.answer.split('\r\n')[0]})`);
      assert.equal(sent.answer, '', `${type ?? 'no content type'}: answered ${sent.answer.split('\r\n')[0]}`);
    }
  });

  it("gives slow JSON senders the witness's turns: the fifth from an address is refused 503 at once, the others get 408", async () => {
    const from = '127.0.7.1';
    const slow = await Promise.all(Array.from({ length: 4 }, () => rawPost(nr!.port, '/witness/add-checkpoint', 'application/json', from)));
    try {
      const fifth = await rawPost(nr!.port, '/witness/add-checkpoint', 'application/json', from, 'old 0\n\nx\n');
      // The fifth is refused (or, had it come before one of the slow ones, that one is).
      const answers = (await Promise.all([fifth, ...slow].map((s) => s.answer))).map((a) => a.split('\r\n')[0]);
      const overloaded = answers.filter((a) => /^HTTP\/1\.1 503 /.test(a));
      assert.equal(overloaded.length, 1, answers.join('; '));
      // The slow ones admitted are answered 408 at the witness's deadline (10 s), not at Node's request timeout (300 s).
      assert.equal(answers.slice(1).filter((a) => /^HTTP\/1\.1 408 /.test(a)).length, answers[0]?.startsWith('HTTP/1.1 503 ') ? 4 : 3, answers.join('; '));
    } finally {
      for (const s of slow) s.socket.destroy();
    }
  });
});

describe('e2e: witness POSTs under httpNodeRoot /nodes (the admin app at /)', function () {
  this.timeout(180_000);
  let nr: NodeRedProcess | undefined;

  before(async () => {
    nr = await startWitness("  httpNodeRoot: '/nodes',\n");
  });
  after(async () => {
    await nr?.kill();
  });

  it('reads a JSON-typed checkpoint itself, at the path as Express matches it, and closes the connection of a 10 MB one', async () => {
    for (const [target, oldSize] of [
      ['/nodes/witness/add-checkpoint', 0],
      ['/NODES/Witness/add-checkpoint/', 4],
    ] as const) {
      const r = await fetch(`${nr!.url}${target}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: formatAddCheckpoint({ oldSize, proof: [], checkpoint: cp(4) }) });
      assert.equal(r.status, 200, `${target}: ${await r.text()}`);
    }
    const sent = await pour(nr!.port, '/nodes/witness/add-checkpoint', 'application/json', Buffer.alloc(64 * 1024, 'x'), 10 * MIB, 10 * MIB);
    assert.equal(sent.answer, '', `answered ${sent.answer.split('\r\n')[0]}`);
    assert.equal(sent.closed, true);
  });
});
