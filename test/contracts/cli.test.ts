import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lineToInput } from '../../lib/cli/contract';
import { main } from '../../lib/cli/main';
import type { CliIo } from '../../lib/cli/io';
import { runCli } from '../support/cli';
import { PARTY_A, terms } from './helpers';

const coldRoom = {
  id: 'cold-room-1',
  version: 1,
  title: 'Freezer stays below -18 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -18 },
  alarm: { mode: 'consecutive', seconds: 300 },
  hysteresis: 0.5,
  maxGapSeconds: 900,
  parties: [PARTY_A],
};

const violating = [
  '{"time":"2026-11-25T10:20:00Z","value":-20}',
  '{"time":"2026-11-25T10:27:00Z","value":-16.5}',
  '',
  '{"time":"2026-11-25T10:30:00Z","temperature":-15.9}',
  'this is not json',
  '{"ts":1795602900000,"temperature":-18.2}',
  '{"time":"2026-11-25T10:36:00Z","temperature":-18.6}',
  '{"time":"2026-11-25T10:36:00Z","temperature":-18.6}',
  '{"time":"2026-11-25T10:40:00Z","temperature":"cold"}',
  '{"time":"2026-11-25T10:41:00Z","temperature":-19}',
].join('\n');

function memoryIo(stdin = ''): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (s: string) => {
      io.out += s;
    },
    stderr: (s: string) => {
      io.err += s;
    },
    stdin: async () => Buffer.from(stdin),
    isTTY: false,
  };
  return io;
}

describe('CLI: contract eval', () => {
  let dir: string;
  let termsFile: string;
  const write = (name: string, text: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-contract-'));
    termsFile = write('terms.json', JSON.stringify(coldRoom, null, 2));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints one line per event, reports bad lines, and exits 1 after a violation', () => {
    const r = runCli(['contract', 'eval', termsFile, write('violating.jsonl', violating)]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(lines, [
      '2026-11-25T10:27:00Z excursion.started value -16.5 °C limit -18 °C (line 2)',
      '2026-11-25T10:30:00Z reading.rejected malformed input: not JSON (line 5)',
      '2026-11-25T10:32:00Z violation consecutive 300 s peak +2.1 °C (line 6)',
      '2026-11-25T10:36:00Z excursion.ended 540 s peak +2.1 °C (line 7)',
      '2026-11-25T10:36:00Z compliance.restored value -18.6 °C after 540 s (line 7)',
      '2026-11-25T10:36:00Z reading.rejected duplicate: a reading with this time was already accepted (line 8)',
      '2026-11-25T10:40:00Z reading.rejected non-numeric: "temperature" is the string "cold" (line 9)',
      'final: compliant; 6 readings, 2 rejected, 1 excursion, 1 violation, 0 gaps; window min -20 °C, max -15.9 °C, mean -18.105 °C',
    ]);
  });

  it('--json prints JSON lines of events, then the final state', () => {
    const r = runCli(['contract', 'eval', termsFile, path.join(dir, 'violating.jsonl'), '--json']);
    assert.equal(r.status, 1, r.stderr);
    const out = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    const final = out.pop();
    assert.equal(final.state.status, 'compliant');
    assert.equal(final.state.counters.violations, 1);
    assert.deepEqual(
      out.map((e) => e.type),
      ['excursion.started', 'reading.rejected', 'violation', 'excursion.ended', 'compliance.restored', 'reading.rejected', 'reading.rejected'],
    );
    const v = out[2];
    assert.equal(v.time, Date.UTC(2026, 10, 25, 10, 32));
    assert.equal(v.detectedAt, Date.UTC(2026, 10, 25, 10, 35));
    assert.equal(v.line, 6);
  });

  it('exits 0 when compliant throughout, 1 for an excursion still open at the end', async () => {
    const ok = write('ok.jsonl', '{"time":"2026-11-25T10:00:00Z","value":-20}\n{"time":"2026-11-25T10:05:00Z","value":-19}\n');
    let io = memoryIo();
    assert.equal(await main(['contract', 'eval', termsFile, ok], io), 0, io.err);
    assert.match(io.out, /^final: compliant; 2 readings/m);
    const open = write('open.jsonl', '{"time":"2026-11-25T10:00:00Z","value":-20}\n{"time":"2026-11-25T10:01:00Z","value":-17}\n');
    io = memoryIo();
    assert.equal(await main(['contract', 'eval', termsFile, open], io), 1);
    assert.match(io.out, /final: excursion/);
  });

  it('exits 1 for a data gap (a silent sensor is a finding), also one found by --until', async () => {
    const ok = path.join(dir, 'ok.jsonl');
    let io = memoryIo();
    assert.equal(await main(['contract', 'eval', termsFile, ok, '--until', '2026-11-25T10:30:00Z'], io), 1);
    assert.match(io.out, /^2026-11-25T10:30:00Z data\.gap 1500 s since 2026-11-25T10:05:00Z \(ongoing\)$/m);
    io = memoryIo();
    assert.equal(await main(['contract', 'eval', termsFile, ok, '--until', String(Date.UTC(2026, 10, 25, 10, 10))], io), 0);
    const gap = write('gap.jsonl', '{"time":"2026-11-25T10:00:00Z","value":-20}\n{"time":"2026-11-25T11:00:00Z","value":-20}\n');
    io = memoryIo();
    assert.equal(await main(['contract', 'eval', termsFile, gap], io), 1);
    assert.match(io.out, /data\.gap 3600 s/);
  });

  it('reads readings from stdin with "-" and accepts tick lines', async () => {
    const io = memoryIo('{"time":"2026-11-25T10:00:00Z","value":-17}\n{"kind":"tick","time":"2026-11-25T10:06:00Z"}\n');
    assert.equal(await main(['contract', 'eval', termsFile, '-'], io), 1);
    assert.match(io.out, /2026-11-25T10:05:00Z violation consecutive 300 s peak \+1 °C/);
    assert.match(io.out, /final: violated/);
  });

  it('reads readings line by line: input without line breaks on stdin (/dev/zero) stops at the line limit, ERR_PAYLOAD_TOO_LARGE (exit 2)', () => {
    // Without the limit the command reads /dev/zero until it runs out of memory (or runCli's 120 s pass).
    const r = runCli(['contract', 'eval', termsFile, '-'], { file: '/dev/zero' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /line 1 of the readings is longer than 1048576 bytes \(ERR_PAYLOAD_TOO_LARGE\)/);
    // A file of several read chunks (128 KiB each) is judged whole, lines split across chunks included.
    const t0 = Date.UTC(2026, 10, 25, 10);
    const many = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ ts: t0 + i * 60_000, value: -20, note: 'x'.repeat(40 + (i % 7)) }));
    const all = runCli(['contract', 'eval', termsFile, write('many.jsonl', `${many.join('\r\n')}\r\n`)]);
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, /^final: compliant; 5000 readings, 0 rejected/m);
  });

  it('no readings at all is not compliant', async () => {
    const io = memoryIo();
    assert.equal(await main(['contract', 'eval', termsFile, write('empty.jsonl', '\n\n')], io), 1);
    assert.match(io.out, /^final: no-data/);
  });

  it('exits 2 for usage errors, unreadable files and invalid terms', async () => {
    const readings = path.join(dir, 'ok.jsonl');
    const cases: [string[], RegExp][] = [
      [['contract'], /missing sub-command/],
      [['contract', 'sign'], /unknown sub-command "sign"/],
      [['contract', 'eval', termsFile], /needs TERMS\.json and READINGS\.jsonl/],
      [['contract', 'eval', termsFile, readings, 'extra'], /needs/],
      [['contract', 'eval', termsFile, readings, '--until', 'later'], /--until/],
      [['contract', 'eval', termsFile, readings, '--verbose'], /--verbose/],
      [['contract', 'eval', termsFile, readings, '--verbose=1'], /unknown option --verbose/],
      [['contract', 'eval', termsFile, path.join(dir, 'missing.jsonl')], /cannot read readings file/],
      [['contract', 'eval', termsFile, dir], /cannot read readings file/],
      [['contract', 'eval', path.join(dir, 'nope.json'), readings], /cannot read terms file/],
      [['contract', 'eval', write('bad.json', '{"id":'), readings], /is not JSON.*ERR_INVALID_TERMS/],
      [['contract', 'eval', write('invalid.json', JSON.stringify({ ...coldRoom, rule: { op: '<' } })), readings], /terms\.rule\.limit.*ERR_INVALID_TERMS/],
    ];
    for (const [argv, message] of cases) {
      const io = memoryIo();
      assert.equal(await main(argv, io), 2, argv.join(' '));
      assert.match(io.err, message, argv.join(' '));
    }
    const r = runCli(['contract', 'eval', termsFile, path.join(dir, 'missing.jsonl')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read/);
  });

  it('turns lines into inputs: value or metric path, time or ts, ISO or ms, device', () => {
    const t = terms({ metric: 'sensors.t1' });
    assert.deepEqual(lineToInput('{"time":"2026-11-25T10:00:00Z","value":3}', t), { kind: 'reading', time: Date.UTC(2026, 10, 25, 10), value: 3 });
    const payload = { ts: 5, sensors: { t1: 4 }, device: 'fridge-1' };
    assert.deepEqual(lineToInput(JSON.stringify(payload), t), { kind: 'reading', time: 5, value: payload, device: 'fridge-1' });
    // the metric path wins over "value"; a bad metric is left for the evaluator to reject
    const both = { time: 5, value: 3, sensors: { t1: 'x' } };
    assert.deepEqual(lineToInput(JSON.stringify(both), t), { kind: 'reading', time: 5, value: both });
    assert.deepEqual(lineToInput('{"time":5}', t), { kind: 'reading', time: 5, value: { time: 5 } });
    assert.deepEqual(lineToInput('{"kind":"tick","ts":7}', t), { kind: 'tick', time: 7 });
    assert.equal(lineToInput('[1,2]', t), 'not a JSON object');
    assert.equal(lineToInput('{"value":1}', t), 'no valid "time" or "ts" (ISO-8601 with a zone, or ms)');
    assert.equal(lineToInput('{"time":"10:00","value":1}', t), 'no valid "time" or "ts" (ISO-8601 with a zone, or ms)');
  });
});
