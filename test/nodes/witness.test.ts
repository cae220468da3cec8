import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { generateKey } from '../../lib/crypto';
import { consistencyProof, leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { verifierKeyString } from '../../lib/note/note';
import { openNote } from '../../lib/note/note-open';
import { cosignatureVerifier, formatAddCheckpoint, logVerifier, parseWitnessKey, witnessVerifierKey } from '../../lib/witness';
import { readPrivateKeyFile } from '../../lib/crypto/keyfile';
import { helper, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

// The Witness node in a real Node-RED runtime (the test helper's): requests come in as
// messages (the HTTP route is exercised end to end with a real Node-RED process).
describe('Witness node', function () {
  this.timeout(20000);
  let userDir = '';
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  const ORIGIN = 'gw.example/room';
  const gw = generateKey('Ed25519');
  const leaves = Array.from({ length: 30 }, (_, i) => leafHash(Uint8Array.of(i)));
  const fork = leaves.map((l, i) => (i >= 3 ? leafHash(Uint8Array.of(200 - i)) : l));
  const cp = (size: number, ls = leaves) => signCheckpoint({ origin: ORIGIN, size, root: rootFromLeafHashes(ls.slice(0, size)), extensions: [] }, ORIGIN, gw);
  const body = (old: number, size: number, ls = leaves) => formatAddCheckpoint({ oldSize: old, proof: old > 0 ? consistencyProof(ls, old, size) : [], checkpoint: cp(size, ls) });
  const flow = () =>
    onTab([
      { id: 'own', type: 'iot-ledger-config', ledgerName: 'witness-own', blockRecords: 1, blockSeconds: 3600 },
      { id: 'w', type: 'iot-ledger-witness', keyName: 'witness.test/w1', ledger: 'own', logs: verifierKeyString(ORIGIN, gw), prefix: '-', wires: [['out']] },
      { id: 'out', type: 'helper' },
      { id: 'catch', type: 'catch', scope: ['w'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
      { id: 'status', type: 'status', scope: ['w'], wires: [['statuses']] },
      { id: 'statuses', type: 'helper' },
    ]);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const catchNode = require('@node-red/nodes/core/common/25-catch.js') as unknown;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const statusNode = require('@node-red/nodes/core/common/25-status.js') as unknown;

  async function ask(text: string): Promise<{ statusCode: number; payload: string; headers: Record<string, string> }> {
    const got = nextMessage<{ statusCode: number; payload: string; headers: Record<string, string> }>(helper.getNode('out'));
    helper.getNode('w').receive({ payload: text });
    return got;
  }

  it('creates its key file 0600, cosigns, refuses a stale old size with 409, and remembers across a redeploy', async () => {
    await helper.load([...(packNodes() as object[]), catchNode, statusNode], flow());
    const keyFile = path.join(userDir, 'iot-ledger', 'keys', 'witness.test_w1.witness.jwk');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    const wkey = parseWitnessKey(witnessVerifierKey('witness.test/w1', readPrivateKeyFile(keyFile)));
    const r1 = await ask(body(0, 4));
    assert.equal(r1.statusCode, 200);
    const v = cosignatureVerifier(wkey);
    assert.equal(openNote(cp(4) + r1.payload, [logVerifier(verifierKeyString(ORIGIN, gw), ORIGIN), v]).verified.length, 2);
    assert.equal((await ask(body(4, 9))).statusCode, 200);
    await helper.unload();
    await helper.load([...(packNodes() as object[]), catchNode, statusNode], flow());
    const stale = await ask(body(4, 12));
    assert.equal(stale.statusCode, 409);
    assert.equal(stale.headers['content-type'], 'text/x.tlog.size');
    assert.equal(stale.payload, '9\n');
    assert.equal((await ask(body(9, 12))).statusCode, 200);
  });

  it('keeps both checkpoints of a fork as evidence and raises ERR_WITNESS_EQUIVOCATION for Catch nodes', async () => {
    await helper.load([...(packNodes() as object[]), catchNode, statusNode], flow());
    const caught = nextMessage<{ error: { code?: string; message: string }; evidence: { kind: string; latest: string; submitted: string } }>(helper.getNode('caught'));
    const r = await ask(body(12, 12, fork));
    assert.equal(r.statusCode, 409);
    const c = await caught;
    assert.equal(c.error.code, 'ERR_WITNESS_EQUIVOCATION');
    assert.equal(c.evidence.kind, 'equivocation');
    assert.equal(c.evidence.submitted, cp(12, fork));
    assert.ok(c.evidence.latest.startsWith(cp(12)));
    const dir = path.join(userDir, 'iot-ledger', 'witness', 'witness.test_w1', 'evidence');
    // The same fork again (a gateway retrying): answered the same way, kept once.
    assert.equal((await ask(body(12, 12, fork))).statusCode, 409);
    const files = fs.readdirSync(dir);
    assert.equal(files.length, 1);
    const kept = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8')) as { submitted: string };
    assert.equal(kept.submitted, cp(12, fork));
    // And on the witness's own ledger, as a security record.
    const own = helper.getNode('own') as unknown as { gateway(): Promise<{ ledger: { size: number; get(i: number): Promise<{ record: { type: string; body: Record<string, unknown> } }> } }> };
    const g = await own.gateway();
    await until('a record on its own ledger', () => g.ledger.size > 0, { timeoutMs: 2500, pollMs: 50 });
    const rec = await g.ledger.get(g.ledger.size - 1);
    assert.equal(rec.record.type, 'security');
    assert.equal(rec.record.body.code, 'ERR_WITNESS_EQUIVOCATION');
    assert.equal((rec.record.body.evidence as { submitted?: string }).submitted, cp(12, fork));
  });

  it('keeps no evidence and raises nothing for the cosigned checkpoint sent again with a proof line (422)', async () => {
    await helper.load([...(packNodes() as object[]), catchNode, statusNode], flow());
    const dir = path.join(userDir, 'iot-ledger', 'witness', 'witness.test_w1', 'evidence');
    const kept = fs.readdirSync(dir);
    // The latest cosigned checkpoint is public (GET <path>/checkpoint): anyone can send it with old = its size and a junk proof.
    const r = await ask(formatAddCheckpoint({ oldSize: 12, proof: [leaves[0]], checkpoint: cp(12) }));
    assert.equal(r.statusCode, 422);
    assert.deepEqual(fs.readdirSync(dir), kept);
    // The first error Catch sees is the next one, not a fork alarm.
    const caught = nextMessage<{ error: { code?: string } }>(helper.getNode('caught'));
    helper.getNode('w').receive({ payload: 42 });
    assert.equal((await caught).error.code, 'ERR_WITNESS_REQUEST');
  });

  it('answers a genuine newer checkpoint sent with a junk consistency proof 422: no evidence, no FORK status, nothing for Catch; the gateway is cosigned', async () => {
    await helper.load([...(packNodes() as object[]), catchNode, statusNode], flow());
    const dir = path.join(userDir, 'iot-ledger', 'witness', 'witness.test_w1', 'evidence');
    const kept = fs.readdirSync(dir);
    const statuses: { status: { fill?: string; text?: string } }[] = [];
    const errors: { error: { code?: string } }[] = [];
    helper.getNode('statuses').on('input', (m: { status: { fill?: string; text?: string } }) => void statuses.push(m));
    helper.getNode('caught').on('input', (m: { error: { code?: string } }) => void errors.push(m));
    // The witness holds 12. The gateway's checkpoint of 20 is public (its tiles) before the
    // gateway's own request comes: anyone can send it first, with proof lines of their own.
    const junk = consistencyProof(leaves, 12, 20).map(() => leaves[0]);
    for (const proof of [junk, [], [leaves[1]]]) {
      const r = await ask(formatAddCheckpoint({ oldSize: 12, proof, checkpoint: cp(20) }));
      assert.equal(r.statusCode, 422);
      assert.match(r.payload, /does not verify/);
    }
    assert.deepEqual(fs.readdirSync(dir), kept);
    // The gateway's own request, with its proof, is cosigned as if nothing had come before.
    assert.equal((await ask(body(12, 20))).statusCode, 200);
    await until(() => `a green status (${JSON.stringify(statuses)})`, () => statuses.some((m) => m.status.fill === 'green'), { timeoutMs: 2000 });
    assert.ok(statuses.some((m) => m.status.fill === 'green'), JSON.stringify(statuses));
    assert.deepEqual(
      statuses.filter((m) => m.status.fill === 'red' || /FORK/.test(m.status.text ?? '')),
      [],
    );
    assert.deepEqual(errors, []);
  });

  it('answers garbage with 400 and a wrong payload type with a typed error', async () => {
    await helper.load([...(packNodes() as object[]), catchNode, statusNode], flow());
    assert.equal((await ask('hello')).statusCode, 400);
    const caught = nextMessage<{ error: { code?: string } }>(helper.getNode('caught'));
    helper.getNode('w').receive({ payload: { not: 'text' } });
    assert.equal((await caught).error.code, 'ERR_WITNESS_REQUEST');
  });
});
