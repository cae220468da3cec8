import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { projectRoot } from '../support/paths';

// The de catalogue through Node-RED's own i18n (@node-red/util), as the runtime loads a node
// set's catalogue (namespace "<module>/<set>", dir locales/, file <set>.json): looked up in
// German, the status texts are German, and falls back to en-US for what de leaves out.

interface I18n {
  init(settings: { lang?: string }): Promise<void>;
  registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
  _(key: string, args?: Record<string, unknown>): string;
  /** i18next itself. */
  i: { loadLanguages(langs: string[]): Promise<void> };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { i18n } = require('@node-red/util') as { i18n: I18n };

describe('locale de through Node-RED i18n', () => {
  const ns = 'node-red-contrib-iot-ledger/iot-ledger-contract';
  before(async () => {
    // One i18n per process, maybe initialised by an earlier test: ask for German per lookup (lng).
    await i18n.init({});
    await i18n.registerMessageCatalog(ns, path.join(projectRoot, 'dist', 'nodes', 'locales'), 'iot-ledger-contract.json');
    await i18n.i.loadLanguages(['de']);
  });

  it('gives the German status text, substitutions filled in', () => {
    assert.equal(i18n._(`${ns}:iot-ledger-contract.status.compliant`, { value: '-21.3 °C', lng: 'de' }), 'eingehalten -21.3 °C');
    assert.equal(i18n._(`${ns}:iot-ledger-contract.status.awaiting`, { signed: 1, total: 2, lng: 'de' }), 'wartet auf Unterschriften 1/2');
  });

  it('falls back to en-US for a key de does not translate', () => {
    assert.match(i18n._(`${ns}:iot-ledger-contract.errors.tickSeconds`, { lng: 'de' }), /^Check every: a whole number/);
  });
});
