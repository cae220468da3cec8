import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Gateway } from '../../lib/gateway';
import { counted } from '../../lib/counted';
import { ledgerStatusText } from '../../nodes/lib/ledger-user';
import type { Translate } from '../../nodes/lib/status';

/** Node-RED's __name__ substitution over one locale's iot-ledger-record catalogue. */
function translator(locale: string): Translate {
  const file = path.join(__dirname, '..', '..', '..', 'nodes', 'locales', locale, 'iot-ledger-record.json');
  const catalogue = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  return (key, subs = {}) => {
    const text = key.split('.').reduce<unknown>((at, part) => (at as Record<string, unknown>)[part], catalogue);
    assert.equal(typeof text, 'string', key);
    return (text as string).replace(/__(\w+)__/g, (_, name: string) => String(subs[name]));
  };
}

const gatewayOf = (height: number, size: number): Gateway => ({ ledger: { height, size }, witnesses: undefined }) as unknown as Gateway;

describe('counts in words', () => {
  it('counted() puts the noun in the plural unless the count is 1', () => {
    assert.deepEqual([0, 1, 2, 1000].map((n) => counted(n, 'block')), ['0 blocks', '1 block', '2 blocks', '1000 blocks']);
  });

  it("Record's status says 1 block and 1 record in the singular, in English and German", () => {
    const en = translator('en-US');
    assert.equal(ledgerStatusText(en, gatewayOf(1, 1)), '1 block · 1 record');
    assert.equal(ledgerStatusText(en, gatewayOf(0, 1)), '0 blocks · 1 record');
    assert.equal(ledgerStatusText(en, gatewayOf(21, 1324)), '21 blocks · 1\u202f324 records');
    const de = translator('de');
    assert.equal(ledgerStatusText(de, gatewayOf(1, 1)), '1 Block · 1 Eintrag');
    assert.equal(ledgerStatusText(de, gatewayOf(2, 5)), '2 Blöcke · 5 Einträge');
  });
});
