import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { append } from '../lib/cli/append';
import type { CliIo } from '../lib/cli/io';
import { inputChunks, LineSplitter, MAX_LINE_BYTES, type LineRun } from '../lib/cli/input-lines';
import { runCli } from './support/cli';
import { deviceA, tempDir } from './support/ledger';

/** A CliIo whose stdin is `input` and whose output is collected. */
function fakeIo(input: string | Buffer): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (s: string) => void (io.out += s),
    stderr: (s: string) => void (io.err += s),
    stdin: async () => (typeof input === 'string' ? Buffer.from(input) : input),
    isTTY: false,
  };
  return io;
}

async function collect(input: string | Buffer, maxLineBytes: number, chunkBytes: number): Promise<LineRun[]> {
  const runs: LineRun[] = [];
  const lines = new LineSplitter(maxLineBytes);
  const keep = (run: LineRun): void => void ((run.texts.length > 0 || run.tooLong !== undefined) && runs.push(run));
  for await (const chunk of inputChunks(fakeIo(input), chunkBytes)) {
    keep(lines.push(chunk));
    if (lines.stopped) return runs;
  }
  keep(lines.end());
  return runs;
}

/** The lines as the command had them before it read bytes: split on LF, one CR dropped, blank ones left out. */
function reference(input: string): { nos: number[]; texts: string[] } {
  const all = input.split('\n');
  if (all[all.length - 1] === '') all.pop();
  const nos: number[] = [];
  const texts: string[] = [];
  all.forEach((l, i) => {
    const t = l.endsWith('\r') ? l.slice(0, -1) : l;
    if (t.trim() !== '') {
      nos.push(i + 1);
      texts.push(t);
    }
  });
  return { nos, texts };
}

describe('CLI append: reading lines', () => {
  it('gives the same lines and numbers whatever the chunk size (CR LF, blank lines, UTF-8 across chunk boundaries, no final LF)', async () => {
    const piece = fc.constantFrom('{"a":1}', 'é', '€', '😀', ' ', '\r', '\n', '\r\n', 'x'.repeat(20), '');
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 1, max: 23 }), async (pieces, chunkBytes) => {
        const input = pieces.join('');
        const runs = await collect(input, MAX_LINE_BYTES, chunkBytes);
        assert.deepEqual(
          { nos: runs.flatMap((r) => r.nos), texts: runs.flatMap((r) => r.texts) },
          reference(input),
        );
        assert.ok(runs.every((r) => r.tooLong === undefined));
      }),
      { numRuns: 300 },
    );
  });

  it('stops at a line longer than the limit, in bytes without its CR LF, naming it; the lines before it come first', async () => {
    const limit = 10;
    for (const chunkBytes of [1, 3, 4, 7, 64]) {
      // 10 bytes pass (also with a CR before the LF, and as 5 two-byte characters); 11 do not.
      const ok = await collect('0123456789\r\nééééé\n0123456789\néééééx\n', limit, chunkBytes);
      assert.deepEqual(ok.flatMap((r) => r.texts), ['0123456789', 'ééééé', '0123456789']);
      assert.equal(ok.at(-1)?.tooLong, 4, `chunk ${chunkBytes}: 'éééééx' is 11 bytes`);

      const middle = await collect('{"a":1}\n\n01234567890\n{"a":2}\n', limit, chunkBytes);
      assert.deepEqual(middle.flatMap((r) => r.texts), ['{"a":1}']);
      assert.equal(middle.at(-1)?.tooLong, 3);

      // A last line without LF, and a line never ended within the limit.
      const last = await collect('{"a":1}\n01234567890', limit, chunkBytes);
      assert.deepEqual(last.flatMap((r) => r.texts), ['{"a":1}']);
      assert.equal(last.at(-1)?.tooLong, 2);
      const endless = await collect(`{"a":1}\n${'y'.repeat(200)}`, limit, chunkBytes);
      assert.equal(endless.at(-1)?.tooLong, 2);
    }
  });
});

describe('CLI append: batches, chunks and the line limit (in process)', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('iot-ledger-cli-lines-');
  });
  after(() => tmp.cleanup());
  let n = 0;
  const run = async (input: string | Buffer, chunkBytes?: number): Promise<{ code: number; out: string; err: string }> => {
    const io = fakeIo(input);
    const dir = path.join(tmp.dir, `l${n++}`);
    const code = await append([dir, '--key', path.join(tmp.dir, 'gw.jwk'), '--name', 'example.com/lines'], io, chunkBytes ? { chunkBytes } : {});
    return { code, out: io.out, err: io.err };
  };
  const reading = (i: number): string => JSON.stringify({ type: 'reading', device: deviceA, time: 1_700_000_000_000 + i, body: { i, pad: 'é'.repeat(i % 5) } });

  it('the same receipts, in order, whatever the chunk size', async () => {
    const input = `${Array.from({ length: 300 }, (_, i) => reading(i)).join('\r\n')}\r\n\r\n`;
    const whole = await run(input);
    assert.equal(whole.code, 0, whole.err);
    assert.equal(whole.out.split('\n').length - 1, 300);
    for (const chunkBytes of [1, 97, 4096]) {
      const r = await run(input, chunkBytes);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, whole.out, `chunks of ${chunkBytes} bytes`);
    }
  });

  it('a bad line right at a chunk boundary: the records before it appended, the line named, exit 2', async () => {
    const good = Array.from({ length: 50 }, (_, i) => reading(i));
    const head = `${good.join('\n')}\n`;
    const input = `${head}{"type":"Bad"}\n${reading(99)}\n`;
    // The chunk ends just before the bad line, and just inside it.
    for (const chunkBytes of [Buffer.byteLength(head), Buffer.byteLength(head) + 3]) {
      const r = await run(input, chunkBytes);
      assert.equal(r.code, 2);
      assert.match(r.err, /^iot-ledger append: line 51: type must match .* \(ERR_MALFORMED_RECORD\); the 50 record\(s\) before it were appended\n$/);
      assert.deepEqual(
        r.out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { index: number }).index),
        Array.from({ length: 50 }, (_, i) => i),
      );
    }
  });

  it('a bare reading (its fields where the record\'s are) is refused with the record shape, so the fix is plain', async () => {
    const r = await run(`${reading(0)}\n{"temperature":-21.5}\n`);
    assert.equal(r.code, 2);
    assert.match(r.err, /^iot-ledger append: line 2: unknown record field "temperature" \(a record is \{type, body\?, device\?, envelope\?, time\?\}: a reading's own fields go in its body\) \(ERR_MALFORMED_RECORD\); the 1 record\(s\) before it were appended\n$/);
  });

  it('a time text that is not an RFC 3339 date-time with an offset whose fields exist stops the input; one that is is recorded at the instant it names', async () => {
    const at = (time: string): string => JSON.stringify({ type: 'reading', device: deviceA, time, body: { t: time } });
    // Each was taken before (by Date.parse after a loose check): rolled over, local, T24, +hhmm, no seconds and no offset.
    for (const time of ['2026-02-30T00:00:00Z', '2026-12-06T10:00:00', '2026-12-06T24:00:00Z', '2026-12-06T10:00:00+0100', '2026-12-06T10:00', '2026-13-01T00:00:00Z']) {
      const r = await run(`${reading(0)}\n${at(time)}\n${reading(1)}\n`);
      assert.equal(r.code, 2, time);
      assert.match(r.err, /^iot-ledger append: line 2: time must be ms since the epoch or an ISO 8601 date-time.*; the 1 record\(s\) before it were appended\n$/, time);
      assert.equal(r.out.split('\n').filter(Boolean).length, 1, time);
    }
    const good: [string, number][] = [
      ['2026-12-06T10:00:00Z', Date.UTC(2026, 11, 6, 10)],
      ['2026-12-06T11:00:00+01:00', Date.UTC(2026, 11, 6, 10)],
      ['2026-12-06T10:00:00.5z', Date.UTC(2026, 11, 6, 10) + 500],
      ['2028-02-29T23:59:59-00:30', Date.UTC(2028, 2, 1, 0, 29, 59)],
    ];
    const r = await run(good.map(([time]) => at(time)).join('\n'));
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      r.out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { time: number }).time),
      good.map(([, ms]) => ms),
    );
  });

  it(`a line longer than ${MAX_LINE_BYTES} bytes stops the input with its number, the records before it appended`, async () => {
    const long = JSON.stringify({ type: 'note', body: 'x'.repeat(MAX_LINE_BYTES) });
    const r = await run(`${reading(0)}\n\n${reading(1)}\n${long}\n${reading(2)}\n`, 256 * 1024);
    assert.equal(r.code, 2);
    assert.equal(r.err, `iot-ledger append: line 4: longer than ${MAX_LINE_BYTES} bytes (the limit of a line); the 2 record(s) before it were appended\n`);
    assert.equal(r.out.split('\n').filter(Boolean).length, 2);
    // Exactly the limit is a line like any other (here one the ledger refuses as too large a record).
    const atLimit = `{"type":"note","body":"${'x'.repeat(MAX_LINE_BYTES - 25)}"}`;
    assert.equal(Buffer.byteLength(atLimit), MAX_LINE_BYTES);
    const r2 = await run(`${reading(0)}\n${atLimit}\r\n`);
    assert.equal(r2.code, 2);
    assert.match(r2.err, /line 2: record is \d+ bytes, more than the limit of 65535 \(ERR_RECORD_TOO_LARGE\)/);
  });

  it('a line nested 100,000 deep (within the line limit) is refused on the encoder thread, named, the records before it appended', async () => {
    const deep = `{"type":"note","body":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const r = await run(`${reading(0)}\n${deep}\n${reading(1)}\n`);
    assert.equal(r.code, 2);
    assert.match(r.err, /^iot-ledger append: line 2: body(\[0\])+: nested deeper than \d+ levels \(ERR_MALFORMED_RECORD\); the 1 record\(s\) before it were appended\n$/);
    assert.equal(r.out.split('\n').filter(Boolean).length, 1);
  });

  it('from the real standard input: a line without an end within the limit is named before it is read whole', () => {
    const file = path.join(tmp.dir, 'endless.jsonl');
    fs.writeFileSync(file, `${reading(0)}\n${'z'.repeat(3 * MAX_LINE_BYTES)}`);
    const r = runCli(['append', path.join(tmp.dir, 'endless'), '--key', path.join(tmp.dir, 'gw.jwk'), '--name', 'example.com/endless'], { file });
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`line 2: longer than ${MAX_LINE_BYTES} bytes \\(the limit of a line\\); the 1 record\\(s\\) before it were appended`));
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1);
  });
});
