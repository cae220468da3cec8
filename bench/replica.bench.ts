// Replica catch-up over HTTP tiles against a local `iot-ledger export` of the same ledger,
// and the gateway's append throughput while a replica follows it against without.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CborValue } from '../lib/encoding/codec';
import { generateKey, keyToDid, type PrivateKey } from '../lib/crypto';
import { Ledger } from '../lib/ledger';
import { httpTileFetch, Replicator } from '../lib/replica';
import { answerTileRequest, TileRequestGate } from '../lib/tiles/http';
import { printFigures, type Figure } from './harness';

const BIN = path.join(__dirname, '..', 'bin', 'iot-ledger.js');
const body = (i: number): CborValue => ({ i, pad: 'x'.repeat(170), celsius: -20 + (i % 9) / 10 });

async function build(dir: string, key: PrivateKey, n: number): Promise<void> {
  const ledger = await Ledger.open(dir, { name: 'bench.replica', gatewayKey: key, blockRecords: 1000, blockSeconds: 0 });
  for (let i = 0; i < n; i += 1000) await ledger.appendMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ type: 'reading', body: body(i + j) })));
  await ledger.close();
}

function timeExport(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, 'export', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - start) / 1e9) : reject(new Error(`export exited ${code}`))));
  });
}

function startChild(script: string, args: string[]): Promise<{ child: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout?.once('data', (d: Buffer) => resolve({ child, line: d.toString().trim() }));
    child.on('error', reject);
  });
}

/** Resolves on the child's first line of output (and keeps draining it). */
function firstLine(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.stdout?.resume();
    child.once('exit', (code) => reject(new Error(`the follower exited (${code}) before its first round`)));
  });
}

/** Records/s of 64 concurrent appenders over `n` records. */
async function appendRate(ledger: Ledger, n: number): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) {
        const i = next++;
        await ledger.append({ type: 'reading', body: body(i) });
      }
    }),
  );
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

export async function benchReplica(records = Number(process.env.BENCH_RECORDS ?? 100_000)): Promise<Figure[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'replica-bench-'));
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const figures: Figure[] = [];
  try {
    const dir = path.join(root, 'gw');
    await build(dir, key, records);
    const exportSeconds = await timeExport(dir);
    const { child, line: url } = await startChild(path.join(__dirname, 'tile-server-child.js'), [dir]);
    let catchUpSeconds: number;
    try {
      const start = process.hrtime.bigint();
      const replica = await Replicator.open(path.join(root, 'copy'), { trustedKey: did, fetch: httpTileFetch(url) });
      const r = await replica.catchUp();
      await replica.close();
      catchUpSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (r.size !== records) throw new Error(`replica holds ${r.size} of ${records}`);
    } finally {
      child.kill('SIGTERM');
    }
    figures.push({
      name: `replica catch-up over HTTP tiles, ${records.toLocaleString('en-US')} records (raw: \`iot-ledger export\` of the same ledger)`,
      ours: records / catchUpSeconds,
      baseline: records / exportSeconds,
      unit: 'rec/s',
      target: '>= 0.5',
    });

    // The gateway appends while serving tiles; a replica process follows it (--follow, 0.2 s).
    const n = Math.min(records, 50_000);
    const rates: Record<'alone' | 'followed', number[]> = { alone: [], followed: [] };
    for (const mode of ['alone', 'followed', 'alone', 'followed'] as const) {
      const gwDir = path.join(root, `pipe-${mode}-${rates[mode].length}`);
      const ledger = await Ledger.open(gwDir, { name: 'bench.pipe', gatewayKey: key, blockRecords: 1000, blockSeconds: 1 });
      const gate = new TileRequestGate();
      const server = http.createServer((req, res) => gate.admit(res, (sent) => answerTileRequest(ledger, new URL(req.url ?? '/', 'http://x').pathname.slice(1), req, res, sent)));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      await ledger.appendMany([{ type: 'note', body: { start: true } }]);
      await ledger.seal();
      let follower: ChildProcess | undefined;
      if (mode === 'followed') {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        // On this 2-core machine the replica shares the gateway's CPUs (in the field it runs
        // elsewhere): it runs at the lowest priority, as a co-located replica should.
        follower = spawn('nice', ['-n', '19', process.execPath, BIN, 'replicate', url, path.join(root, `follow-${rates[mode].length}`), '--key', did, '--follow', '--interval', '0.2'], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        // Timed from the follower's first round (it prints one line per round): the window
        // holds following, not the process start (loading Node and the pack, ~0.2 s of CPU).
        await firstLine(follower);
      }
      rates[mode].push(await appendRate(ledger, n));
      follower?.kill('SIGTERM');
      server.closeAllConnections();
      server.close();
      await ledger.close();
    }
    const best = (xs: number[]): number => Math.max(...xs);
    figures.push({
      name: `gateway durable appends (64 appenders, ${n.toLocaleString('en-US')} records) while a replica follows (raw: same, no replica)`,
      ours: best(rates.followed),
      baseline: best(rates.alone),
      unit: 'rec/s',
      target: '>= 0.9',
    });
    printFigures('## Replicas', figures);
    return figures;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) void benchReplica();
