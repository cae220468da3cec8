import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { validateTerms } from '../../lib/contracts';
import { keyToDid } from '../../lib/crypto/didkey';
import { generateKey, keyToJwk } from '../../lib/crypto/keys';
import { ED25519_SMALL_ORDER_KEYS } from '../../lib/crypto/small-order';
import { toBase58, fromHex } from '../../lib/encoding/bytes';
import { projectRoot } from '../support/paths';
import { launchChromium } from '../support/editor-session';

// The Contract node's editor checks terms with the runtime's validateTerms, bundled for the
// browser. This feeds the same good and bad terms to the shipped bundle (dist/nodes/
// iot-ledger-contract.html) in Debian's Chromium and to validateTerms in Node, and asserts the
// same verdict and the same message for each; and the Identity editor's did:key for a pasted
// JWK against keyToDid.


/** The page's global object (this file is compiled without the DOM lib). */
declare const window: unknown;

const ed = keyToDid(generateKey('Ed25519'));
const p256 = keyToDid(generateKey('ES256'));
const weak = `did:key:z${toBase58(Uint8Array.of(0xed, 0x01, ...fromHex(ED25519_SMALL_ORDER_KEYS[0])))}`;
const good = {
  id: 'cold-room',
  version: 1,
  title: 'Cold room below -20 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'consecutive', seconds: 300 },
  hysteresis: 0.5,
  maxGapSeconds: 600,
  parties: [ed, p256],
};
const variant = (patch: Record<string, unknown>): Record<string, unknown> => ({ ...good, ...patch });

/** Terms the runtime accepts and terms it refuses, one reason each. */
const CASES: [string, unknown][] = [
  ['good', good],
  ['good, between with MKT and validity', variant({ rule: { op: 'between', low: 2, high: 8 }, mkt: { limit: 25, windowSeconds: 2592000 }, validFrom: '2026-01-01T00:00:00Z', validUntil: '2027-01-01T00:00:00+01:00' })],
  ['good, subjects by name and did', variant({ subjects: ['freezer-1', ed] })],
  ['good, cumulative alarm', variant({ alarm: { mode: 'cumulative', seconds: 600, windowSeconds: 86400 } })],
  ['not an object', 42],
  ['unknown field', variant({ colour: 'blue' })],
  ['bad id', variant({ id: 'has space' })],
  ['version 0', variant({ version: 0 })],
  ['version not an integer', variant({ version: 1.5 })],
  ['title with a control character', variant({ title: 'a\u0007b' })],
  ['metric with an empty segment', variant({ metric: 'a..b' })],
  ['unit too long', variant({ unit: 'x'.repeat(33) })],
  ['unknown op', variant({ rule: { op: '!=', limit: 1 } })],
  ['limit not a number', variant({ rule: { op: '<', limit: '5' } })],
  ['limit too large', variant({ rule: { op: '<', limit: 1e16 } })],
  ['between low >= high', variant({ rule: { op: 'between', low: 8, high: 2 } })],
  ['rule with an extra field', variant({ rule: { op: '<', limit: 1, low: 0 } })],
  ['unknown alarm mode', variant({ alarm: { mode: 'sometimes' } })],
  ['alarm seconds 0', variant({ alarm: { mode: 'consecutive', seconds: 0 } })],
  ['window shorter than seconds', variant({ alarm: { mode: 'cumulative', seconds: 600, windowSeconds: 60 } })],
  ['negative hysteresis', variant({ hysteresis: -1 })],
  ['hysteresis too wide for between', variant({ rule: { op: 'between', low: 2, high: 8 }, hysteresis: 3 })],
  ['max gap negative', variant({ maxGapSeconds: -5 })],
  ['MKT with a Fahrenheit unit', variant({ unit: '°F', mkt: { limit: 25, windowSeconds: 3600 } })],
  ['MKT energy 0', variant({ mkt: { limit: 25, windowSeconds: 3600, activationEnergyKJ: 0 } })],
  ['MKT limit near absolute zero', variant({ mkt: { limit: -273, windowSeconds: 3600 } })],
  ['no parties', variant({ parties: [] })],
  ['party not a did:key', variant({ parties: ['did:web:example.com'] })],
  ['party with bad base58', variant({ parties: ['did:key:z6Mk0OIl'] })],
  ['party repeated', variant({ parties: [ed, ed] })],
  ['party with a #fragment', variant({ parties: [`${ed}#${ed.slice(8)}`] })],
  ['party P-256 key not on the curve', variant({ parties: [`did:key:z${toBase58(Uint8Array.of(0x80, 0x24, 0x02, ...new Uint8Array(32).fill(0xff)))}`] })],
  ['party of small order (weak key)', variant({ parties: [weak] })],
  ['subject name too long', variant({ subjects: ['x'.repeat(129)] })],
  ['subjects empty', variant({ subjects: [] })],
  ['validFrom without a zone', variant({ validFrom: '2026-01-01T00:00:00' })],
  ['validFrom on 30 February', variant({ validFrom: '2026-02-30T00:00:00Z' })],
  ['validUntil before validFrom', variant({ validFrom: '2027-01-01T00:00:00Z', validUntil: '2026-01-01T00:00:00Z' })],
];

/** What validateTerms says: true, or the message it throws. */
function nodeVerdict(terms: unknown): true | string {
  try {
    validateTerms(terms);
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('e2e: the Contract and Identity editors agree with the runtime (Chromium)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let page: Page;

  before(async () => {
    const bundle = path.join(projectRoot, 'dist', 'nodes', 'iot-ledger-contract.html');
    const html = fs.readFileSync(bundle, 'utf8');
    const script = /<script type="text\/javascript">\n([\s\S]*?)<\/script>/.exec(html);
    assert.ok(script, `${bundle} has the editor script`);
    browser = await launchChromium();
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent('<!doctype html><html><body></body></html>');
    // A stand-in for the editor's RED that keeps the node definition the bundle registers.
    await page.evaluate(() => {
      const w = window as Record<string, unknown>;
      w.RED = {
        nodes: { registerType: (type: string, def: unknown) => ((w.registered as Record<string, unknown>)[type] = def) },
        validators: { number: () => () => true },
      };
      w.registered = {};
    });
    await page.addScriptTag({ content: script[1] });
    assert.deepEqual(errors, []);
    assert.ok(await page.evaluate(() => 'iot-ledger-contract' in ((window as Record<string, Record<string, unknown>>).registered)));
  });
  after(async () => {
    await browser?.close();
  });

  /** The terms property's validator of the bundle, as the editor calls it (with a translator that names the key). */
  function browserVerdict(text: string): Promise<true | string | false> {
    return page.evaluate((t) => {
      interface Def {
        defaults: { terms: { validate: (this: unknown, v: unknown) => true | string | false } };
      }
      const def = (window as { registered: Record<string, Def> }).registered['iot-ledger-contract'];
      const node = { termsFrom: 'typed', _: (key: string, args?: Record<string, unknown>) => `${key} ${JSON.stringify(args ?? {})}` };
      return def.defaults.terms.validate.call(node, t);
    }, text);
  }

  it('gives every case the verdict and the message validateTerms gives', async () => {
    let accepted = 0;
    for (const [name, terms] of CASES) {
      const expected = nodeVerdict(terms);
      const shown = await browserVerdict(JSON.stringify(terms));
      assert.equal(shown, expected, name);
      if (expected === true) accepted++;
    }
    assert.equal(accepted, 4, 'the four good cases pass');
  });

  it('names the contract of a list a problem is in, with the runtime message', async () => {
    const bad = variant({ id: 'second', parties: [] });
    const shown = await browserVerdict(JSON.stringify([good, bad]));
    assert.equal(shown, `iot-ledger-contract.errors.inContract ${JSON.stringify({ n: 2, message: nodeVerdict(bad) })}`);
  });

  it('bundles no Node built-in: no require(), no Buffer', () => {
    for (const set of ['iot-ledger-contract', 'iot-ledger-identity']) {
      const html = fs.readFileSync(path.join(projectRoot, 'dist', 'nodes', `${set}.html`), 'utf8');
      assert.doesNotMatch(html, /\brequire\(|\bBuffer\b/, set);
    }
  });

  it('Identity editor: a pasted private JWK gets the did:key the runtime computes; a JWK whose d does not match is refused', async () => {
    const html = fs.readFileSync(path.join(projectRoot, 'dist', 'nodes', 'iot-ledger-identity.html'), 'utf8');
    const script = /<script type="text\/javascript">\n([\s\S]*?)<\/script>/.exec(html);
    assert.ok(script);
    // Form inputs as the dialog's oneditsave reads and writes them, by selector.
    await page.evaluate(() => {
      const w = window as Record<string, unknown>;
      const inputs: Record<string, { v: string; d: unknown }> = {};
      w.inputs = inputs;
      w.$ = (sel: string) => {
        const el = (inputs[sel] ??= { v: '', d: undefined });
        const api = {
          val: (x?: unknown) => (x === undefined ? el.v : ((el.v = typeof x === 'string' ? x : JSON.stringify(x)), api)),
          data: (_k: string, x?: unknown) => (x === undefined ? el.d : ((el.d = x), api)),
        };
        return api;
      };
    });
    await page.addScriptTag({ content: script[1] });
    const save = (jwk: string, state: Record<string, unknown>): Promise<{ did: string; alg: string; jwk: string }> =>
      page.evaluate(
        ([text, st]) => {
          const w = window as { registered: Record<string, { oneditsave: () => void }>; inputs: Record<string, { v: string; d: unknown }> };
          w.inputs['#node-config-input-jwk'] = { v: text, d: st };
          w.inputs['#node-config-input-did'] = { v: '', d: undefined };
          w.inputs['#node-config-input-alg'] = { v: '', d: undefined };
          w.registered['iot-ledger-identity'].oneditsave.call({});
          return { did: w.inputs['#node-config-input-did'].v, alg: w.inputs['#node-config-input-alg'].v, jwk: w.inputs['#node-config-input-jwk'].v };
        },
        [jwk, state] as const,
      );
    for (const alg of ['Ed25519', 'ES256'] as const) {
      const key = generateKey(alg);
      const saved = await save(JSON.stringify(keyToJwk(key, true)), { hasKey: false, did: '', accepted: null, refused: null });
      assert.equal(saved.did, keyToDid(key), alg);
      assert.equal(saved.alg, alg);
    }
    const a = keyToJwk(generateKey('Ed25519'), true);
    const b = keyToJwk(generateKey('Ed25519'), true);
    const mismatched = await save(JSON.stringify({ ...a, d: b.d }), { hasKey: true, did: 'did:key:zKept', accepted: null, refused: null });
    assert.equal(mismatched.did, 'did:key:zKept', 'a key whose d is not its x leaves the identity as it was');
    assert.equal(mismatched.jwk, '__PWRD__');
  });
});
