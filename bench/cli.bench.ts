// The command line, apart from the library's benches: `iot-ledger append` of JSON lines
// against a raw baseline that reads the same file and writes its lines into classic-level
// in synced batches of 1000. Both run as a fresh process, timed from spawn to exit.
//
// BENCH_CLI_LINES (default 50,000) sets the number of lines.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { keyToDid } from '../lib/crypto/didkey';
import { generateKey } from '../lib/crypto/keys';
import { printFigures, type Figure } from './harness';

const DEVICES = 8;

/** JSON lines as a gateway's export would hold them: readings of 8 devices, about 200 bytes each. */
function writeLines(file: string, count: number): void {
  const devices = Array.from({ length: DEVICES }, () => keyToDid(generateKey('Ed25519')));
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(JSON.stringify({ type: 'reading', device: devices[i % DEVICES], body: { seq: i, celsius: -20 - (i % 50) / 10, door: i % 7 === 0, site: 'cold-room-3', note: 'x'.repeat(40) } }));
  }
  fs.writeFileSync(file, `${out.join('\n')}\n`);
}

/** The baseline process: the same lines, split, each put under `r` + u64(index), synced every 1000. */
async function rawChild(file: string, dir: string): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const text = fs.readFileSync(file);
  let index = 0;
  let batch = db.batch();
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf(0x0a, at);
    if (end < 0) end = text.length;
    const key = Buffer.allocUnsafe(9);
    key[0] = 0x72;
    key.writeUInt32BE(0, 1);
    key.writeUInt32BE(index++, 5);
    batch.put(key, text.subarray(at, end));
    at = end + 1;
    if (index % 1000 === 0) {
      await batch.write({ sync: true });
      batch = db.batch();
    }
  }
  await batch.write({ sync: true });
  await db.close();
}

function timed(args: string[], input?: string): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: [input ? fs.openSync(input, 'r') : 'ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return s;
}

export function benchCli(): Figure[] {
  const count = Number(process.env.BENCH_CLI_LINES ?? 50_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-bench-cli-'));
  const figures: Figure[] = [];
  try {
    const file = path.join(tmp, 'lines.jsonl');
    writeLines(file, count);
    const cli = path.join(__dirname, '..', 'bin', 'iot-ledger.js');
    const ours: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < 3; round++) {
      const dir = path.join(tmp, `ledger-${round}`);
      ours.push(count / timed([cli, 'append', dir, '--key', path.join(tmp, 'gateway.jwk'), '--name', 'bench.example/cli'], file));
      const rawDir = path.join(tmp, `raw-${round}`);
      raw.push(count / timed([__filename, '--raw-child', file, rawDir]));
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(rawDir, { recursive: true, force: true });
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1];
    figures.push({
      name: `iot-ledger append of ${count.toLocaleString('en-US')} JSON lines (8 devices, ~200 B), spawn to exit, median of 3 (raw: a process putting the same lines into classic-level, synced batches of 1000)`,
      ours: median(ours),
      baseline: median(raw),
      unit: 'lines/s',
      target: '>= 0.5',
    });
    printFigures('## Command line', figures);
    console.log(`rounds: ours ${ours.map(Math.round).join(', ')}; raw ${raw.map(Math.round).join(', ')}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}

if (require.main === module) {
  const [flag, file, dir] = process.argv.slice(2);
  if (flag === '--raw-child') {
    rawChild(file, dir).catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
  } else benchCli();
}
