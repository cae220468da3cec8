// The Home Assistant add-on case on any machine: classic-level made unloadable (the test hook
// IOT_LEDGER_TEST_NO_CLASSIC_LEVEL, as on Alpine aarch64 without a build), the Ledger config node
// falls back to the file store, says so in the Node-RED log, records a signed reading, and the
// Audit node finds the ledger clean.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { generateKey, keyToDid, signEnvelope } from '../../lib/index';
import { auditLedger } from '../../lib/audit';
import { NO_CLASSIC_LEVEL_ENV } from '../../lib/storage/level';
import { storageIn, STORAGE_ENV } from '../../lib/storage/open';
import { helper, ledgerNode, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';

describe('nodes: file storage where classic-level cannot load', function () {
  this.timeout(30000);
  let userDir: string;
  const nodes = packNodes();
  const device = generateKey('Ed25519');
  const saved = { hook: process.env[NO_CLASSIC_LEVEL_ENV], storage: process.env[STORAGE_ENV] };

  before((done) => {
    process.env[NO_CLASSIC_LEVEL_ENV] = '1';
    delete process.env[STORAGE_ENV];
    userDir = startTestRuntime(done);
  });
  after((done) => {
    for (const [k, v] of [[NO_CLASSIC_LEVEL_ENV, saved.hook], [STORAGE_ENV, saved.storage]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    stopTestRuntime(userDir, done);
  });
  afterEach(() => helper.unload());

  it('logs the fallback, records a reading, and the audit is clean', async () => {
    const dir = path.join(userDir, 'ha-ledger');
    await helper.load(
      nodes,
      onTab([
        ledgerNode('ledger', { dir }),
        { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['enrolled']] },
        { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 1, wires: [['record']] },
        { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', recordType: 'reading', wires: [['recorded']] },
        { id: 'audit', type: 'iot-ledger-audit', ledger: 'ledger', mode: 'full', interval: 0, wires: [['audited']] },
        { id: 'enrolled', type: 'helper' },
        { id: 'recorded', type: 'helper' },
        { id: 'audited', type: 'helper' },
      ]),
    );
    const logged: string[] = [];
    helper.getNode('ledger').on('call:log', (call: never) => logged.push(String((call as { args: unknown[] }).args[0])));
    const enrolled = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: keyToDid(device), name: 'freezer-1' } });
    await enrolled;
    const recorded = nextMessage<{ ledger: { index: number } }>(helper.getNode('recorded'));
    helper.getNode('verify').receive({ payload: signEnvelope({ temperature: -21.5, counter: 1, ts: 1764000000000 }, device, { format: 'jws', kid: keyToDid(device) }) });
    assert.equal((await recorded).ledger.index, 1);

    assert.deepEqual(logged, [`ledger ${dir}: file storage (classic-level could not load: disabled by ${NO_CLASSIC_LEVEL_ENV} (a test hook))`]);
    assert.equal(storageIn(dir), 'file');

    const audited = nextMessage<{ payload: { clean: boolean; size: number; storage: string } }>(helper.getNode('audited'));
    helper.getNode('audit').receive({});
    const report = (await audited).payload;
    assert.deepEqual([report.clean, report.size, report.storage], [true, 2, 'file']);
    await helper.unload();
    // and from outside Node-RED, as the CLI would
    const again = await auditLedger(dir);
    assert.deepEqual([again.clean, again.size, again.storage], [true, 2, 'file']);
  });
});
