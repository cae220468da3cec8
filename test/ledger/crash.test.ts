// kill -9 while appending: every acknowledged record survives, the stored Merkle nodes still
// give the root recomputed from the records, blocks still chain, and appends continue.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { bytesEqual, toHex } from '../../lib/encoding/bytes';
import { openCheckpoint } from '../../lib/note/checkpoint';
import { generateKey } from '../../lib/crypto';
import { writeKeyFile } from '../../lib/crypto/keyfile';
import { Ledger, type BlockInfo, type Receipt } from '../../lib/ledger';
import { CompactRange, verifyInclusion } from '../../lib/merkle';
import { projectRoot } from '../support/paths';
import { tempDir } from '../support/ledger';

const CHILD = path.join(projectRoot, 'dist', 'test', 'support', 'crash-appender.js');
const NAME = 'example.com/crash';
const KILLS = 12;

/**
 * Runs the appender and kills it with SIGKILL `ms` after it starts, or with `afterFirst`,
 * `ms` after its first receipt; returns the receipts it printed.
 */
function runAndKill(dir: string, keyFile: string, ms: number, afterFirst: boolean): Promise<{ receipts: Receipt[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, keyFile, NAME, '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => void (timer ??= setTimeout(() => child.kill('SIGKILL'), ms));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (afterFirst) arm();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (!afterFirst) arm();
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`appender exited early (${code}): ${stderr}`));
      // every line was one write(2) of less than PIPE_BUF bytes, so only whole lines arrive
      const lines = out.split('\n');
      assert.equal(lines.pop(), '', 'no partial receipt line');
      resolve({ receipts: lines.map((l) => JSON.parse(l) as Receipt), stderr });
    });
  });
}

describe('Ledger crash safety (SIGKILL while appending)', function () {
  this.timeout(60000);
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('iot-ledger-crash-');
  });
  after(() => tmp.cleanup());

  it(`keeps every acknowledged record through ${KILLS} kills and stays consistent`, async () => {
    const dir = path.join(tmp.dir, 'ledger');
    const keyFile = path.join(tmp.dir, 'gateway.jwk');
    const gatewayKey = generateKey('Ed25519');
    writeKeyFile(keyFile, gatewayKey);
    const acknowledged = new Map<number, string>();
    let withReceipts = 0; // runs killed while appending
    let lastSize = 0;

    for (let round = 0; round < KILLS; round++) {
      // random moments: a few during start-up and open, most while appending
      const early = round % 4 === 1;
      const ms = early ? 50 + Math.floor(Math.random() * 250) : Math.floor(Math.random() * 400);
      const { receipts } = await runAndKill(dir, keyFile, ms, !early);
      if (receipts.length > 0) withReceipts++;
      for (const r of receipts) {
        assert.ok(!acknowledged.has(r.index), `index ${r.index} acknowledged twice`);
        acknowledged.set(r.index, r.leafHash);
      }

      const ledger = await Ledger.open(dir, { name: NAME, gatewayKey, blockSeconds: 0 });
      try {
        assert.ok(ledger.size >= lastSize, 'the ledger never shrinks');
        const maxAck = Math.max(-1, ...receipts.map((r) => r.index));
        assert.ok(ledger.size > maxAck, `acknowledged index ${maxAck} is beyond the ledger size ${ledger.size}`);

        // blocks: the sizes whose roots the recomputation must reproduce
        const blocks: BlockInfo[] = [];
        for (let h = 0; h < ledger.height; h++) blocks.push(await ledger.block(h));
        const wanted = new Map<number, Uint8Array>();
        for (const b of blocks) wanted.set(b.header.size, b.header.root);
        const probe = Math.floor(Math.random() * ledger.size);

        // full recomputation from the records themselves
        const range = new CompactRange();
        const recomputed = new Map<number, Uint8Array>();
        let probeLeaf: Uint8Array | undefined;
        for await (const rec of ledger.range(0)) {
          const ack = acknowledged.get(rec.index);
          if (ack !== undefined) assert.equal(toHex(rec.leafHash), ack, `record ${rec.index} changed after it was acknowledged`);
          if (rec.index === probe) probeLeaf = rec.leafHash;
          range.append(rec.leafHash);
          if (wanted.has(range.size)) recomputed.set(range.size, range.root());
        }
        assert.equal(range.size, ledger.size);
        for (const index of acknowledged.keys()) assert.ok(index < ledger.size, `acknowledged record ${index} is missing`);
        assert.ok(bytesEqual(range.root(), await ledger.rootAt(ledger.size)), 'frontier root = recomputed root');
        if (ledger.size > 1) {
          // and from the stored perfect-subtree nodes at a smaller size
          const s = ledger.size - 1;
          const partial = new CompactRange();
          for await (const rec of ledger.range(0, s)) partial.append(rec.leafHash);
          assert.ok(bytesEqual(partial.root(), await ledger.rootAt(s)), 'stored nodes give the recomputed root');
        }
        for (let h = 0; h < blocks.length; h++) {
          const b = blocks[h];
          assert.ok(bytesEqual(b.header.prev, h === 0 ? new Uint8Array(32) : blocks[h - 1].hash), `block ${h} chains`);
          assert.equal(b.header.first, h === 0 ? 0 : blocks[h - 1].header.size);
          assert.ok(bytesEqual(recomputed.get(b.header.size) as Uint8Array, b.header.root), `block ${h} root`);
          openCheckpoint(b.checkpoint, ledger.verifierKey);
        }
        if (probeLeaf) {
          const proof = await ledger.inclusionProof(probe, ledger.size);
          assert.ok(verifyInclusion(probeLeaf, probe, ledger.size, proof, range.root()));
        }

        // appends continue where the ledger stopped
        const more = await ledger.appendMany([{ type: 'note', body: { round } }, { type: 'note' }]);
        assert.deepEqual(
          more.map((r) => r.index),
          [range.size, range.size + 1],
        );
        for (const r of more) acknowledged.set(r.index, r.leafHash);
        lastSize = ledger.size;
      } finally {
        await ledger.close();
      }
    }
    if (process.env.CRASH_DEBUG) console.log(`acknowledged ${acknowledged.size}, runs with receipts ${withReceipts}, size ${lastSize}`);
    assert.ok(withReceipts >= KILLS - KILLS / 4, `only ${withReceipts} of ${KILLS} runs appended before the kill`);
    assert.ok(acknowledged.size > 1000, `only ${acknowledged.size} records acknowledged`);
  });
});
