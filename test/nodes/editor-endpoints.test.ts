import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey, keyToDid, keyToJwk, signEnvelope, type PrivateKey } from '../../lib/index';
import { signContract, termsHashHex, validateTerms, type Terms } from '../../lib/contracts';
import { openGateways } from '../../lib/gateway';
import { projectRoot } from '../support/paths';
import { helper, ledgerNode, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { MAX_WAITING_SERIES } from '../../nodes/lib/series-turns';
import type { Ledger } from '../../lib/ledger';
import { until } from '../support/until';

const POLL = { timeoutMs: 10_000, pollMs: 5 };

// The admin endpoints behind the editor: the Contract node's signatures table
// (GET /iot-ledger/contracts/:id) and the Ledger sidebar plugin (GET /iot-ledger/sidebar[/series]).

interface ContractInfo {
  id: string;
  version: number;
  title: string;
  termsHash: string;
  active: boolean;
  parties: { did: string; signed: boolean }[];
  missingParties: string[];
  signingPayload: { contract: string; version: number; termsHash: string };
  state: { status: string; last: { time: number; value: number } | null; counters: { readings: number; excursions: number; violations: number }; window: Record<string, unknown> };
}
interface SidebarLedger {
  name: string;
  size: number;
  blocks: number;
  gatewayDid: string;
  verifierKey: string;
  latestBlocks: { height: number; size: number; records: number; time: number; root: string }[];
  lastAudit: { at: number; clean: boolean; size: number; first?: unknown } | null;
  devices: { did: string; name: string; revoked: boolean; tofu: boolean }[];
  contracts: { id: string; termsHash: string; active: boolean; status: string; rule: unknown; last: { value: number } | null }[];
}
interface Series {
  ledger: string;
  contract: { id: string; termsHash: string; rule: unknown; unit: string | null; active: boolean | null };
  points: { index: number; time: number; value: number }[];
  events: { time: number; type: string }[];
  excursions: { start: number; end: number | null; violated: boolean; violatedAt: number | null }[];
  from: number | null;
  to: number | null;
}

const LEDGER = 'editor-endpoints';

function coldRoom(parties: string[], extra: Partial<Terms> = {}): Terms {
  return validateTerms({
    id: 'cold-room',
    version: 1,
    title: 'Cold room below -18 °C',
    subjects: 'any',
    metric: 'temperature',
    unit: '°C',
    rule: { op: '<', limit: -18 },
    alarm: { mode: 'instant' },
    hysteresis: 0.5,
    parties,
    ...extra,
  });
}

/** Registers the sidebar plugin on the helper's admin app the way Node-RED's registry does (onadd). */
function addSidebarPlugin(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const plugin = require(path.join(projectRoot, 'dist', 'nodes', 'iot-ledger-sidebar.js')) as (red: unknown) => void;
  const registered: string[] = [];
  plugin({
    plugins: {
      registerPlugin(id: string, def: { onadd?: () => void }) {
        registered.push(id);
        def.onadd?.();
      },
    },
    httpAdmin: (helper as unknown as { _httpAdmin: unknown })._httpAdmin,
    auth: { needsPermission: () => (_req: unknown, _res: unknown, next: () => void) => next() },
  });
  assert.deepEqual(registered, ['iot-ledger-sidebar']);
}

describe('nodes: editor endpoints (contract signatures, Ledger sidebar)', function () {
  this.timeout(30000);
  let userDir: string;
  const nodes = packNodes();
  const partyA = generateKey('Ed25519');
  const partyB = generateKey('ES256');
  const device = generateKey('Ed25519');
  const terms = coldRoom([keyToDid(partyA), keyToDid(partyB)]);
  const hash = termsHashHex(terms);
  const secrets = [partyA, partyB, device].map((k) => keyToJwk(k, true).d as string);

  const flow = () =>
    onTab([
      ledgerNode('ledger', { ledgerName: LEDGER }),
      { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'enrol', wires: [['enrolled']] },
      { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 1, wires: [['contract']] },
      { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [['events'], ['state']] },
      { id: 'enrolled', type: 'helper' },
      { id: 'events', type: 'helper' },
      { id: 'state', type: 'helper' },
    ]);

  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  const get = async <T>(url: string, status = 200): Promise<T> => (await helper.request().get(url).expect(status)).body as T;
  const contractInfo = async (): Promise<ContractInfo> => {
    const body = await get<{ contracts: ContractInfo[] }>('/iot-ledger/contracts/contract');
    assert.equal(body.contracts.length, 1);
    return body.contracts[0];
  };
  const gatewaySecret = (): string => {
    const dir = path.join(userDir, 'iot-ledger', 'keys');
    return JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'utf8')).d as string;
  };
  const assertNoSecrets = (label: string, body: unknown): void => {
    const text = JSON.stringify(body);
    for (const d of [gatewaySecret(), ...secrets]) assert.ok(!text.includes(d), `${label} holds private key material`);
    assert.ok(!/"d"\s*:/.test(text), `${label} holds a JWK "d" member`);
  };

  async function sign(key: PrivateKey, format: 'jws' | 'cose'): Promise<void> {
    const state = nextMessage<{ payload: { active: boolean } }>(helper.getNode('events'));
    const sig = signContract(terms, key, { format, kid: keyToDid(key) });
    helper.getNode('contract').receive({ topic: 'contract/sign', payload: typeof sig === 'string' ? sig : Buffer.from(sig) });
    await state;
  }

  async function read(counter: number, temperature: number): Promise<{ contract: { status: string } }> {
    const state = nextMessage<{ contract: { status: string } }>(helper.getNode('state'));
    helper.getNode('verify').receive({ payload: signEnvelope({ temperature, counter, ts: Date.now() }, device, { kid: keyToDid(device) }) });
    const s = await state;
    await new Promise((r) => setTimeout(r, 5)); // the contract clock is in ms: keep readings apart
    return s;
  }

  it('answers {deployed: false} for a contract node that is not deployed (no 404 in the browser console)', async () => {
    await helper.load(nodes, flow());
    const body = await get<{ deployed: boolean; contracts: unknown[] }>('/iot-ledger/contracts/no-such-node', 200);
    assert.deepEqual(body, { deployed: false, contracts: [] });
  });

  it('shows which parties signed, what they sign, and the state as readings arrive', async () => {
    await helper.load(nodes, flow());
    const enrolled = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: keyToDid(device), name: 'freezer-1' } });
    await enrolled;

    let info = await contractInfo();
    assert.equal(info.id, 'cold-room');
    assert.equal(info.termsHash, hash);
    assert.deepEqual(info.signingPayload, { contract: 'cold-room', version: 1, termsHash: hash });
    assert.deepEqual(Object.keys(info.signingPayload), ['contract', 'version', 'termsHash']);
    assert.deepEqual(info.parties, [
      { did: keyToDid(partyA), signed: false },
      { did: keyToDid(partyB), signed: false },
    ]);
    assert.equal(info.active, false);
    assert.equal(info.state.status, 'no-data');

    await sign(partyA, 'jws');
    info = await contractInfo();
    assert.deepEqual(info.parties.map((p) => p.signed), [true, false]);
    assert.deepEqual(info.missingParties, [keyToDid(partyB)]);
    assert.equal(info.active, false);

    await sign(partyB, 'cose');
    info = await contractInfo();
    assert.deepEqual(info.parties.map((p) => p.signed), [true, true]);
    assert.equal(info.active, true);

    const statuses: string[] = [];
    let counter = 1;
    for (const t of [-20, -19, -17, -16, -19]) statuses.push((await read(counter++, t)).contract.status);
    assert.deepEqual(statuses, ['compliant', 'compliant', 'violated', 'violated', 'compliant']);

    info = await contractInfo();
    assert.equal(info.state.status, 'compliant');
    assert.equal(info.state.last?.value, -19);
    assert.equal(info.state.counters.readings, 5);
    assert.equal(info.state.counters.excursions, 1);
    assert.equal(info.state.counters.violations, 1);
    assert.ok(!('buckets' in info.state.window), 'the window buckets stay in the runtime');
    assertNoSecrets('GET /iot-ledger/contracts/contract', info);
  });

  it('serves the Ledger sidebar: ledgers, blocks, last audit, devices, contracts and a series', async () => {
    // Same ledger directory as the previous test: the state comes back from the ledger.
    await helper.load(nodes, flow());
    addSidebarPlugin();
    let { ledgers } = await get<{ ledgers: SidebarLedger[] }>('/iot-ledger/sidebar');
    assert.equal(ledgers.find((l) => l.name === LEDGER)?.lastAudit, null);
    // The Audit node keeps its last report on the gateway; stand in for it (it audits the files).
    const [gw] = (await openGateways()).filter((g) => g.ledger.name === LEDGER);
    gw.lastAudit = { at: Date.now(), clean: false, size: 7, first: { kind: 'record-hash', index: 5, detail: 'record 5 was changed' } };
    const info = await contractInfo();
    assert.equal(info.active, true, 'signatures are rebuilt from the ledger after a redeploy');
    assert.equal(info.state.last?.value, -19);

    ({ ledgers } = await get<{ ledgers: SidebarLedger[] }>('/iot-ledger/sidebar'));
    const ledger = ledgers.find((l) => l.name === LEDGER);
    assert.ok(ledger, `no ledger ${LEDGER} in ${JSON.stringify(ledgers.map((l) => l.name))}`);
    assert.match(ledger.gatewayDid, /^did:key:z6Mk/);
    assert.ok(ledger.verifierKey.startsWith(`${LEDGER}+`));
    assert.ok(ledger.size >= 13, `size ${ledger.size}`); // enrol, register, 2 signs, 5 readings, 4 events
    assert.ok(ledger.blocks >= 1);
    assert.ok(ledger.latestBlocks.length >= 1 && ledger.latestBlocks.length <= 5);
    assert.equal(ledger.latestBlocks[0].height, ledger.blocks - 1);
    for (const b of ledger.latestBlocks) assert.match(b.root, /^[0-9a-f]{64}$/);
    assert.deepEqual(ledger.latestBlocks.map((b) => b.height), [...ledger.latestBlocks.map((b) => b.height)].sort((x, y) => y - x));
    assert.deepEqual(ledger.lastAudit, gw.lastAudit);
    assert.deepEqual(ledger.devices, [{ did: keyToDid(device), name: 'freezer-1', revoked: false, tofu: false }]);
    assert.equal(ledger.contracts.length, 1);
    const c = ledger.contracts[0];
    assert.equal(c.termsHash, hash);
    assert.equal(c.active, true);
    assert.equal(c.status, 'compliant');
    assert.deepEqual(c.rule, { op: '<', limit: -18 });
    assert.equal(c.last?.value, -19);
    assertNoSecrets('GET /iot-ledger/sidebar', ledgers);

    const series = await get<Series>(`/iot-ledger/sidebar/series?ledger=${LEDGER}&contract=${hash}&limit=200`);
    assert.equal(series.ledger, LEDGER);
    assert.deepEqual(series.contract.rule, { op: '<', limit: -18 });
    assert.equal(series.contract.unit, '°C');
    assert.deepEqual(series.points.map((p) => p.value), [-20, -19, -17, -16, -19]);
    assert.deepEqual(series.events.map((e) => e.type), ['excursion.started', 'violation', 'excursion.ended', 'compliance.restored']);
    assert.equal(series.excursions.length, 1);
    const violatedAt = series.events.find((e) => e.type === 'violation')!.time;
    assert.deepEqual(series.excursions[0], { start: series.points[2].time, end: series.points[4].time, violated: true, violatedAt });
    assert.equal(series.from, series.points[0].time);
    assertNoSecrets('GET /iot-ledger/sidebar/series', series);

    const last2 = await get<Series>(`/iot-ledger/sidebar/series?ledger=${LEDGER}&contract=${hash}&limit=2`);
    assert.deepEqual(last2.points.map((p) => p.value), [-16, -19]);
    // The excursion began before the first point shown: it is still shaded from its start.
    assert.deepEqual(last2.excursions, [{ start: series.points[2].time, end: series.points[4].time, violated: true, violatedAt }]);

    await get(`/iot-ledger/sidebar/series?ledger=${LEDGER}&contract=not-a-hash`, 400);
    await get(`/iot-ledger/sidebar/series?ledger=nope&contract=${hash}`, 404);
    await get(`/iot-ledger/sidebar/series?ledger=${LEDGER}&contract=${'0'.repeat(64)}`, 404);
  });

  it(`computes one contract series at a time, answers asks again from it while the ledger has not grown, and refuses more than ${MAX_WAITING_SERIES} waiting`, async () => {
    // The ledger alone, so that nothing records while the series are asked for.
    await helper.load(nodes, onTab([ledgerNode('ledger', { ledgerName: LEDGER })]));
    addSidebarPlugin();
    const ledger = (await (helper.getNode('ledger') as unknown as { gateway(): Promise<{ ledger: Ledger }> }).gateway()).ledger;
    const byType = ledger.byType.bind(ledger);
    let calls = 0;
    let open = 0;
    let peak = 0;
    let hold: Promise<void> | undefined;
    // Counts the scans of the ledger by type, those open at once, and can hold a scan at its start.
    ledger.byType = (type, opts) => {
      calls++;
      const held = hold;
      return {
        async *[Symbol.asyncIterator]() {
          open++;
          peak = Math.max(peak, open);
          try {
            await held;
            yield* byType(type, opts);
          } finally {
            open--;
          }
        },
      };
    };
    try {
      const url = (limit: number): string => `/iot-ledger/sidebar/series?ledger=${LEDGER}&contract=${hash}&limit=${limit}`;
      const ask = (limit: number): Promise<{ status: number; body: unknown }> =>
        new Promise((resolve, reject) => {
          const test = helper.request().get(url(limit)) as unknown as { end(cb: (err: Error | null, res: { status: number; body: unknown }) => void): void };
          test.end((err, res) => (err ? reject(err) : resolve(res)));
        });
      const size = ledger.size;
      const first = await ask(200);
      const once = calls;
      assert.ok(once >= 1);
      const same = await Promise.all(Array.from({ length: 6 }, () => ask(200)));
      assert.equal(ledger.size, size, 'nothing was recorded meanwhile');
      for (const r of same) assert.deepEqual([r.status, r.body], [first.status, first.body]);
      assert.equal(calls, once, 'the same series asked again of a ledger that has not grown is not scanned again');

      let release = (): void => undefined;
      hold = new Promise<void>((resolve) => (release = resolve));
      const held = ask(1).then((r) => r.status);
      await until('the first scan of another series is held', () => calls === once + 1, POLL);
      hold = undefined;
      // Other limits are other series: they wait for the held one, the ninth is refused at once.
      const others = Array.from({ length: MAX_WAITING_SERIES + 1 }, (_, i) => ask(2 + i));
      const refused = await Promise.race(others);
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal((refused.body as { code?: string }).code, 'ERR_OVERLOADED');
      release();
      const statuses = [await held, ...(await Promise.all(others)).map((r) => r.status)];
      assert.deepEqual(statuses.filter((s) => s !== first.status), [503], 'the others are answered as the first was');
      assert.equal(peak, 1, 'never two scans at once');
    } finally {
      ledger.byType = byType;
    }
  });
});
