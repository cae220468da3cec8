import * as assert from 'node:assert/strict';
import { openGateways } from '../../lib/gateway';
import { DEFAULT_TOFU_BURST, DEFAULT_TOFU_MAX_DEVICES, DEFAULT_TOFU_REFILL_MS } from '../../lib/gateway/tofu-limit';
import { generateKey, keyToDid, signEnvelope } from '../../lib/index';
import { helper, ledgerNode, onTab, packNodes, useTestRuntime, editorDefaults } from './support';
import { until } from '../support/until';

// The Verify node's TOFU settings reach the gateway: a flood of fresh keys enrols at most the
// node's burst, the rest reach Catch as ERR_TOFU_LIMIT and the security records in aggregate.
describe('nodes: Verify bounds trust on first use', function () {
  this.timeout(30000);
  useTestRuntime();

  const load = (verify: Record<string, unknown>, ledgerName: string) =>
    helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName }),
        { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', tofu: true, ...verify, wires: [['out']] },
        { id: 'out', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: ['verify'], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );

  async function flood(n: number): Promise<{ verified: number; codes: string[] }> {
    const out: unknown[] = [];
    const caught: { error: { code?: string } }[] = [];
    helper.getNode('out').on('input', (m: never) => out.push(m));
    helper.getNode('caught').on('input', (m: never) => caught.push(m));
    for (let i = 0; i < n; i++) {
      const key = generateKey('Ed25519');
      helper.getNode('verify').receive({ topic: 'sensors/new', payload: signEnvelope({ temperature: 20, counter: 1 }, key, { kid: keyToDid(key) }) });
    }
    await until(() => `${n} messages out or caught (${out.length} out, ${caught.length} caught)`, () => out.length + caught.length >= n, { timeoutMs: 20_000 });
    return { verified: out.length, codes: caught.map((m) => String(m.error.code)) };
  }

  it('a flood of fresh keys enrols at most the TOFU burst; the rest are caught as ERR_TOFU_LIMIT and aggregated', async () => {
    await load({ tofuBurst: '3', tofuEvery: '3600', tofuMaxDevices: '256' }, 'tofu-node-burst');
    const statuses: { text?: string }[] = [];
    helper.getNode('verify').on('call:status', (call: never) => statuses.push((call as { args: { text?: string }[] }).args[0]));
    const { verified, codes } = await flood(40);
    assert.equal(verified, 3);
    assert.equal(codes.length, 37);
    assert.ok(codes.every((c) => c === 'ERR_TOFU_LIMIT'), codes.join(' '));
    const gw = (await openGateways()).find((g) => g.ledger.name === 'tofu-node-burst');
    assert.ok(gw);
    await gw.flushSecurityEvents();
    let tofu = 0;
    const counts: number[] = [];
    for await (const r of gw.ledger.byType('device.tofu')) if (r.record.type === 'device.tofu') tofu++;
    for await (const r of gw.ledger.byType('security')) {
      const body = r.record.body as { code: string; count: number };
      if (body.code === 'ERR_TOFU_LIMIT') counts.push(body.count);
    }
    assert.equal(tofu, 3);
    assert.deepEqual(counts, [1, 36]);
    // The status is drawn at most every 250 ms: its last drawing counts them all.
    await until(() => `the status with all counts (last ${JSON.stringify(statuses.at(-1)?.text)})`, () => statuses.at(-1)?.text === 'verified 3 · rejected 37 · past the TOFU limit 37', { timeoutMs: 1000 });
    assert.equal(statuses.at(-1)?.text, 'verified 3 · rejected 37 · past the TOFU limit 37');
  });

  it('Verify nodes sharing a ledger apply the strictest TOFU settings of theirs; the node whose settings do not hold warns and shows it', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'tofu-node-shared' }),
        { id: 'strict', type: 'iot-ledger-verify', ledger: 'ledger', tofu: true, tofuBurst: '3', tofuEvery: '3600', tofuMaxDevices: '256', wires: [['out']] },
        { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', tofu: true, tofuBurst: '20', tofuEvery: '10', tofuMaxDevices: '256', wires: [['out']] },
        { id: 'out', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: ['verify', 'strict'], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const statuses: { text?: string }[] = [];
    helper.getNode('verify').on('call:status', (call: never) => statuses.push((call as { args: { text?: string }[] }).args[0]));
    const { verified, codes } = await flood(20);
    assert.equal(verified, 3, 'the stricter burst of the other node holds');
    assert.equal(codes.length, 17);
    assert.ok(codes.every((c) => c === 'ERR_TOFU_LIMIT'), codes.join(' '));
    // The helper spies on every node's warn at once: each call's `this` tells the node.
    const warned = (node: string) =>
      (helper.getNode(node) as unknown as { warn: { getCalls(): { thisValue: { id: string }; args: unknown[] }[] } }).warn
        .getCalls()
        .filter((c) => c.thisValue.id === node)
        .map((c) => String(c.args[0]));
    assert.deepEqual(warned('verify'), ['verify: TOFU limits are shared by the Verify nodes of this ledger and the strictest apply: 256 devices, 3 at once, one more every 3600 s, not this node\'s settings']);
    assert.deepEqual(warned('strict'), [], 'its own settings hold');
    const shown = 'verified 3 · rejected 17 · past the TOFU limit 17 · stricter TOFU limits of another Verify node apply';
    await until(() => `the status with all counts (last ${JSON.stringify(statuses.at(-1)?.text)})`, () => statuses.at(-1)?.text === shown, { timeoutMs: 1000 });
    assert.equal(statuses.at(-1)?.text, shown);
    const gw = (await openGateways()).find((g) => g.ledger.name === 'tofu-node-shared');
    assert.deepEqual(gw?.tofuLimits, { maxDevices: 256, burst: 3, refillMs: 3_600_000 });
  });

  it('TOFU devices caps the devices trusted on first use', async () => {
    await load({ tofuMaxDevices: '2' }, 'tofu-node-cap');
    const { verified, codes } = await flood(10);
    assert.equal(verified, 2);
    assert.deepEqual([...new Set(codes)], ['ERR_TOFU_LIMIT']);
  });

  it('a TOFU setting that is no whole number in range is warned about and the default used', async () => {
    await load({ tofuBurst: '0', tofuMaxDevices: 'lots', tofuEvery: '1.5' }, 'tofu-node-bad');
    const warned = (helper.getNode('verify') as unknown as { warn: { args: unknown[][] } }).warn.args.map((a) => String(a[0]));
    assert.ok(warned.includes(`verify: TOFU burst "0" is not a whole number from 1 to 4096; using ${DEFAULT_TOFU_BURST}`), warned.join(' | '));
    assert.ok(warned.includes(`verify: TOFU max devices "lots" is not a whole number from 1 to 65536; using ${DEFAULT_TOFU_MAX_DEVICES}`), warned.join(' | '));
    assert.ok(warned.includes(`verify: TOFU seconds per admission "1.5" is not a whole number from 1 to 86400; using ${DEFAULT_TOFU_REFILL_MS / 1000}`), warned.join(' | '));
    const { verified } = await flood(5);
    assert.equal(verified, 5);
  });

  it("the editor's TOFU settings default to the library's limits and take whole numbers in range", () => {
    const defaults = editorDefaults('iot-ledger-verify');
    const { tofuMaxDevices, tofuBurst, tofuEvery } = defaults;
    assert.ok(tofuMaxDevices?.validate && tofuBurst?.validate && tofuEvery?.validate, Object.keys(defaults).join(', '));
    assert.deepEqual([tofuMaxDevices.value, tofuBurst.value, Number(tofuEvery.value) * 1000], [DEFAULT_TOFU_MAX_DEVICES, DEFAULT_TOFU_BURST, DEFAULT_TOFU_REFILL_MS]);
    const valid = (d: typeof tofuBurst, v: unknown): unknown => d.validate?.call({}, v);
    for (const v of [undefined, 1, '256', '65536']) assert.equal(valid(tofuMaxDevices, v), true, `devices ${String(v)}`);
    for (const v of ['', '0', '65537', '1.5', 'x']) assert.equal(valid(tofuMaxDevices, v), false, `devices ${String(v)}`);
    for (const v of ['1', '4096']) assert.equal(valid(tofuBurst, v), true, `burst ${String(v)}`);
    for (const v of ['0', '4097']) assert.equal(valid(tofuBurst, v), false, `burst ${String(v)}`);
    for (const v of ['1', '86400']) assert.equal(valid(tofuEvery, v), true, `every ${String(v)}`);
    for (const v of ['0', '86401', '-1']) assert.equal(valid(tofuEvery, v), false, `every ${String(v)}`);
  });
});
