import * as assert from 'node:assert/strict';
import { nodeRedTranslator } from './support';

// The de catalogue through Node-RED's own i18n (@node-red/util), as the runtime loads a node
// set's catalogue: looked up in German, the status texts are German, and falls back to en-US for
// what de leaves out.

describe('locale de through Node-RED i18n', () => {
  let t: (key: string, args?: Record<string, unknown>) => string;
  before(async () => {
    t = (await nodeRedTranslator('de'))('iot-ledger-contract');
  });

  it('gives the German status text, substitutions filled in', () => {
    assert.equal(t('iot-ledger-contract.status.compliant', { value: '-21.3 °C' }), 'eingehalten -21.3 °C');
    assert.equal(t('iot-ledger-contract.status.awaiting', { signed: 1, total: 2 }), 'wartet auf Unterschriften 1/2');
  });

  it('falls back to en-US for a key de does not translate', () => {
    assert.match(t('iot-ledger-contract.errors.tickSeconds'), /^Check every: a whole number/);
  });
});
