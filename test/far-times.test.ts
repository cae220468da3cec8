import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatFinding } from '../lib/audit/report';
import { isoTime } from '../lib/encoding/iso-time';
import { Ledger, recordView, verifyProofBundle } from '../lib/ledger';
import { main } from '../lib/cli/main';
import type { CliIo } from '../lib/cli/io';
import { gatewayKey, tempDir } from './support/ledger';

// A record's time is any safe integer of ms (docs/FORMAT.md), up to 2^53 - 1, but a Date
// holds only ±8.64e15 ms: the verifiers' output must not depend on the gateway's honesty
// about its clock.

const FAR = Number.MAX_SAFE_INTEGER;

/** Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days), in BigInt. */
function civil(days: bigint): string {
  const z = days + 719468n;
  const era = (z >= 0n ? z : z - 146096n) / 146097n;
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  const y = yoe + era * 400n + (m <= 2n ? 1n : 0n);
  const two = (n: bigint): string => n.toString().padStart(2, '0');
  return `+${y.toString().padStart(6, '0')}-${two(m)}-${two(d)}`;
}

function expected(ms: number): string {
  const t = BigInt(ms);
  const dayMs = 86_400_000n;
  const rest = t % dayMs;
  const two = (n: bigint): string => n.toString().padStart(2, '0');
  const time = `${two(rest / 3_600_000n)}:${two((rest / 60_000n) % 60n)}:${two((rest / 1000n) % 60n)}.${(rest % 1000n).toString().padStart(3, '0')}`;
  return `${civil(t / dayMs)}T${time}Z`;
}

describe('times past what a Date holds', () => {
  it('isoTime writes any safe integer of ms as toISOString would with the year expanded', () => {
    for (const ms of [0, 1764064800000, 8.64e15]) assert.equal(isoTime(ms), new Date(ms).toISOString());
    assert.equal(expected(8.64e15), new Date(8.64e15).toISOString(), 'the oracle agrees with Date where Date reaches');
    for (const ms of [8.64e15 + 1, 8.64e15 + 86_400_000, 8.64e15 + 146_097 * 86_400_000, 9e15, FAR - 1, FAR])
      assert.equal(isoTime(ms), expected(ms), String(ms));
    // Past 2^53 (an endpoint's block time in seconds times 1000) ms are not exact, but still a date.
    assert.match(isoTime(FAR * 1000), /^\+285\d{6}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('formats an audit finding at such a time', () => {
    assert.match(formatFinding({ kind: 'replay', index: 3, time: FAR, detail: 'x' }), /^replay at record 3, \+287396-10-12T08:59:00\.991Z: x$/);
  });

  describe('a ledger whose gateway wrote such a time', () => {
    let tmp: ReturnType<typeof tempDir>;
    let ledger: Ledger;
    let bundleFile: string;
    before(async () => {
      tmp = tempDir();
      ledger = await Ledger.open(path.join(tmp.dir, 'l'), { name: 'example.com/far-times', gatewayKey, blockSeconds: 0 });
      await ledger.append({ type: 'note', body: 'far', time: FAR });
      await ledger.seal();
      bundleFile = path.join(tmp.dir, 'bundle.json');
      fs.writeFileSync(bundleFile, JSON.stringify(await ledger.proofBundle(0)));
    });
    after(async () => {
      await ledger.close();
      tmp.cleanup();
    });

    it('verify-proof finds its bundle valid (exit 0) and prints the time', async () => {
      assert.equal(verifyProofBundle(JSON.parse(fs.readFileSync(bundleFile, 'utf8')), ledger.verifierKey).record.time, FAR);
      let out = '';
      let err = '';
      const io: CliIo = { stdout: (s) => void (out += s), stderr: (s) => void (err += s), stdin: () => Promise.resolve(Buffer.alloc(0)), isTTY: false };
      assert.equal(await main(['verify-proof', bundleFile, '--key', ledger.verifierKey, '--json'], io), 0, err);
      assert.equal((JSON.parse(out) as { time: string }).time, isoTime(FAR));
    });

    it('export views the record', async () => {
      for await (const r of ledger.range(0)) assert.equal(recordView(r).time, isoTime(FAR));
    });
  });
});
