import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import {
  cosignedNewestFirst,
  cosignLine,
  httpTransport,
  logVerifier,
  parseWitnessEndpoints,
  parseWitnessedLogs,
  parseSubmission,
  parseWitnessKey,
  quorumPolicy,
  verifyCosignedCheckpoint,
  WitnessClient,
  WitnessService,
  WitnessState,
  witnessVerifierKey,
  type CosignedStatus,
  type Transport,
  type WitnessEndpoint,
} from '../../lib/witness';
import { splitNote } from '../../lib/note/note-open';
import { readWitnessSize } from '../../lib/witness/ledger-cosignatures';
import { gatewayKey, tempDir } from '../support/ledger';
import { countWrites } from '../support/write-count';

// The gateway's witness client against real witness services (real state directories),
// reached through an in-process transport that can be switched off to play an outage.
describe('gateway witness client', function () {
  this.timeout(20000);
  let tmp: ReturnType<typeof tempDir>;
  let ledger: Ledger;
  const NAME = 'client-test';
  const wkeys = [generateKey('Ed25519'), generateKey('Ed25519')];
  const names = ['w1.test', 'w2.test'];
  let services: WitnessService[];
  let endpoints: WitnessEndpoint[];
  const down = new Set<string>();
  const calls: { witness: string; old: number; status: number }[] = [];
  const transport: Transport = async (endpoint, body) => {
    if (down.has(endpoint.key.name)) throw new Error('connect ECONNREFUSED');
    const svc = services[names.indexOf(endpoint.key.name)];
    const r = await svc.addCheckpoint(body);
    calls.push({ witness: endpoint.key.name, old: Number(/^old (\d+)/.exec(body)![1]), status: r.status });
    return { status: r.status, body: r.body };
  };

  const waitStatus = (client: WitnessClient, ok: (s: CosignedStatus) => boolean) =>
    new Promise<CosignedStatus>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no such status; last ${JSON.stringify(client.last)}`)), 8000);
      const on = (s: CosignedStatus) => {
        if (ok(s)) {
          clearTimeout(t);
          client.off('status', on);
          resolve(s);
        }
      };
      client.on('status', on);
    });
  const append = async (n: number) => {
    for (let i = 0; i < n; i++) await ledger.append({ type: 'note', body: { i, at: ledger.size } });
    return ledger.seal();
  };

  beforeEach(async () => {
    tmp = tempDir();
    ledger = await Ledger.open(path.join(tmp.dir, 'ledger'), { name: NAME, gatewayKey, blockRecords: 1000, blockSeconds: 3600 });
    const logs = parseWitnessedLogs(ledger.verifierKey);
    services = names.map((n, i) => new WitnessService({ cosigner: { name: n, key: wkeys[i] }, logs, state: new WitnessState(path.join(tmp.dir, n)) }));
    endpoints = parseWitnessEndpoints(names.map((n, i) => `${witnessVerifierKey(n, wkeys[i])} http://127.0.0.1:1/${n}`).join('\n'));
    down.clear();
    calls.length = 0;
  });
  afterEach(async () => {
    await ledger.close();
    tmp.cleanup();
  });

  it('gets 2/2 cosignatures per block and stores them durably beside the block', async () => {
    const client = new WitnessClient(ledger, endpoints, { quorum: 2, transport });
    try {
      await append(3);
      await waitStatus(client, (s) => s.size === 3 && s.cosigned === 2);
      await append(4);
      const s = await waitStatus(client, (x) => x.size === 7 && x.cosigned === 2);
      assert.equal(s.met, true);
      // The second round sent a consistency proof from 3, not from 0.
      assert.deepEqual(calls.filter((c) => c.status === 200).map((c) => c.old).sort(), [0, 0, 3, 3]);
    } finally {
      await client.close();
    }
    const stored: [number, string][] = [];
    for await (const e of cosignedNewestFirst(ledger.database)) stored.push(e);
    assert.deepEqual(stored.map(([h]) => h), [1, 0]);
    const policy = quorumPolicy(endpoints.map((e) => e.key), 2);
    const ok = verifyCosignedCheckpoint(stored[0][1], logVerifier(ledger.verifierKey, NAME), policy);
    assert.equal(ok.checkpoint.size, 7);
    // The stored note starts with the block's checkpoint exactly as the gateway signed it.
    assert.ok(stored[0][1].startsWith((await ledger.block(1)).checkpoint));
  });

  it('stores cosignatures and witness sizes through the ledger\'s group commit, in the synced writes of its appends (no synced put of their own)', async () => {
    const counts = countWrites(ledger.database);
    const client = new WitnessClient(ledger, endpoints, { quorum: 2, transport });
    let appended = 0;
    let stop = false;
    // Appends keep flowing while the witnesses answer, as on a busy gateway.
    const appenders = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await ledger.append({ type: 'note', body: { i: appended++ } });
      }
    });
    try {
      await append(3);
      await waitStatus(client, (s) => s.height === 0 && s.cosigned === 2);
      await ledger.seal();
      await waitStatus(client, (s) => s.height === 1 && s.cosigned === 2);
    } finally {
      stop = true;
      await Promise.all(appenders);
      await client.close();
    }
    assert.equal(counts.puts, 0);
    const stored: [number, string][] = [];
    for await (const e of cosignedNewestFirst(ledger.database)) stored.push(e);
    assert.deepEqual(stored.map(([h]) => h), [1, 0]);
    assert.equal(await readWitnessSize(ledger.database, 'w1.test'), (await ledger.block(1)).header.size);
  });

  it('meets 1-of-2 while a witness is down, and the witness catches up with one proof when it returns', async () => {
    const client = new WitnessClient(ledger, endpoints, { quorum: 1, transport, retryMs: 50, maxRetryMs: 100 });
    try {
      await append(2);
      await waitStatus(client, (s) => s.size === 2 && s.cosigned === 2);
      down.add('w2.test');
      await append(5);
      await waitStatus(client, (s) => s.size === 7 && s.cosigned === 1 && s.met);
      await append(1);
      down.delete('w2.test');
      const s = await waitStatus(client, (x) => x.size === 8 && x.cosigned === 2);
      assert.equal(s.witnesses.find((w) => w.name === 'w2.test')?.last, 'cosigned');
      const w2 = calls.filter((c) => c.witness === 'w2.test').map((c) => [c.old, c.status]);
      assert.deepEqual(w2, [[0, 200], [2, 200]]);
    } finally {
      await client.close();
    }
  });

  it('learns the witness size from a 409 when its own record is gone', async () => {
    const first = new WitnessClient(ledger, endpoints, { quorum: 2, transport });
    await append(3);
    await waitStatus(first, (s) => s.size === 3 && s.cosigned === 2);
    await first.close();
    // Forget what the gateway knew of the witnesses (as after restoring a copy without it).
    for (const n of names) await ledger.database.del(Buffer.concat([Buffer.of(0x77), Buffer.from(n)]));
    const client = new WitnessClient(ledger, endpoints, { quorum: 2, transport });
    try {
      await append(2);
      await waitStatus(client, (s) => s.size === 5 && s.cosigned === 2);
      const w1 = calls.filter((c) => c.witness === 'w1.test').map((c) => [c.old, c.status]);
      assert.deepEqual(w1, [[0, 200], [0, 409], [3, 200]]);
    } finally {
      await client.close();
    }
  });

  it('reports a witness that holds a larger tree (a rollback) with ERR_WITNESS_REFUSED', async () => {
    const first = new WitnessClient(ledger, endpoints.slice(0, 1), { quorum: 1, transport });
    await append(6);
    await waitStatus(first, (s) => s.size === 6 && s.cosigned === 1);
    await first.close();
    // Another ledger of the same name and key, shorter: the rolled-back copy.
    const other = path.join(tmp.dir, 'rolled-back');
    const copy = await Ledger.open(other, { name: NAME, gatewayKey, blockRecords: 1000, blockSeconds: 3600 });
    try {
      for (let i = 0; i < 2; i++) await copy.append({ type: 'note', body: { i } });
      await copy.seal();
      const client = new WitnessClient(copy, endpoints.slice(0, 1), { quorum: 1, transport, retryMs: 10_000 });
      const err = await new Promise<Error>((resolve) => client.once('witness-error', (_n: string, e: Error) => resolve(e)));
      await client.close();
      assert.ok(isLedgerError(err, 'ERR_WITNESS_REFUSED'), String(err));
      assert.match(err.message, /size 6, larger than this ledger's 2/);
    } finally {
      await copy.close();
    }
    assert.equal(fs.readdirSync(path.join(tmp.dir, 'w1.test', 'evidence')).length, 0);
  });

  it('keeps one cosignature per witness and block: extra valid lines from a witness, or a cosigning again, do not push the note past 100 signatures', async () => {
    // w1 answers with its real cosignature and 100 more, each valid (its key, other timestamps);
    // w2 then cosigns the same block again in a later second (as after a restart of the gateway).
    let second = 1_800_000_000;
    services[1] = new WitnessService({
      cosigner: { name: names[1], key: wkeys[1] },
      logs: parseWitnessedLogs(ledger.verifierKey),
      state: new WitnessState(path.join(tmp.dir, 'w2-again')),
      now: () => (second++) * 1000,
    });
    const flooding: Transport = async (endpoint, body) => {
      const r = await transport(endpoint, body);
      if (endpoint.key.name !== names[0] || r.status !== 200) return r;
      const { text } = parseSubmission(body);
      const extra = Array.from({ length: 100 }, (_, i) => cosignLine(text, { name: names[0], key: wkeys[0] }, 1_700_000_000 + i));
      return { status: 200, body: r.body + extra.join('') };
    };
    const client = new WitnessClient(ledger, endpoints, { quorum: 2, transport: flooding });
    try {
      await append(3);
      await waitStatus(client, (s) => s.size === 3 && s.cosigned === 2);
      const cosigns = () => calls.filter((c) => c.witness === names[1] && c.status === 200).length;
      for (let i = 0; i < 3; i++) {
        const before = cosigns();
        client.kick();
        while (cosigns() === before) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await client.close();
    }
    assert.equal((await client.status())?.cosigned, 2);
    const stored: [number, string][] = [];
    for await (const e of cosignedNewestFirst(ledger.database)) stored.push(e);
    const { lines } = splitNote(stored[0][1]);
    assert.deepEqual(lines.map((l) => l.name).sort(), [NAME, ...names].sort());
    const ok = verifyCosignedCheckpoint(stored[0][1], logVerifier(ledger.verifierKey, NAME), quorumPolicy(endpoints.map((e) => e.key), 2));
    assert.equal(ok.cosigners.length, 2);
  });

  it('refuses a witness answer larger than 64 KiB over HTTP (a malicious witness cannot fill the gateway\'s memory)', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(1 << 20, 0x41);
      let left = 16;
      const more = (): void => {
        while (left > 0 && !res.destroyed) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await assert.rejects(httpTransport(5000)({ ...endpoints[0], url: `http://127.0.0.1:${port}/w` }, 'old 0\n\nx\n'), (e: unknown) =>
        isLedgerError(e, 'ERR_WITNESS_REFUSED'),
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('asks the witness again after a 409 with a size above the ledger\'s (a forged answer does not end its witnessing)', async () => {
    let forged = 0;
    const forging: Transport = async (endpoint, body) => {
      // Whoever sees the request on the broker answers first, once, for w1.
      if (endpoint.key.name === names[0] && forged++ === 0) return { status: 409, body: '9007199254740991\n' };
      return transport(endpoint, body);
    };
    const client = new WitnessClient(ledger, endpoints, { quorum: 2, transport: forging, retryMs: 20, maxRetryMs: 40 });
    try {
      await append(3);
      const s = await waitStatus(client, (x) => x.size === 3 && x.cosigned === 2);
      assert.equal(s.witnesses.find((w) => w.name === names[0])?.last, 'cosigned');
    } finally {
      await client.close();
    }
  });

  it('refuses bad witness lines', () => {
    const vk = witnessVerifierKey('w.test', wkeys[0]);
    assert.equal(parseWitnessKey(vk).name, 'w.test');
    for (const text of [vk, `${vk} ftp://x`, `${vk} http://a http://b`, `junk http://a`, `${vk} http://a\n${vk} http://b`])
      assert.throws(() => parseWitnessEndpoints(text), (e: unknown) => isLedgerError(e), text);
  });
});
