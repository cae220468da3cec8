import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../../lib/errors';
import { errorKey, localiseError } from '../../nodes/lib/error-text';
import { projectRoot } from '../support/paths';
import { helper, ledgerNode, nextMessage, nodeRedTranslator, onTab, packNodes, useTestRuntime } from './support';

// Errors reach flows in the user's language: every code of lib/errors.ts has a text in en-US and
// de, its placeholders are details lib passes with that code, and a Catch node in a German
// Node-RED gets the German text with the code unchanged and the English original beside it.

const codes = [...fs.readFileSync(path.join(projectRoot, 'lib', 'errors.ts'), 'utf8').matchAll(/^\s*\| '(ERR_[A-Z_]+)'/gm)].map((m) => m[1]);

function texts(lang: string): Record<string, unknown> {
  const file = path.join(projectRoot, 'nodes', 'locales', lang, 'iot-ledger-config.json');
  const cat = JSON.parse(fs.readFileSync(file, 'utf8')) as { 'iot-ledger-common'?: { errors?: Record<string, unknown> } };
  return cat['iot-ledger-common']?.errors ?? {};
}

/** The detail keys of each literal `new LedgerError('CODE', message, { ... })` in lib/, per code (undefined: a site passes none). */
function detailKeysBySite(): Map<string, (string[] | undefined)[]> {
  const out = new Map<string, (string[] | undefined)[]>();
  const files = fs.readdirSync(path.join(projectRoot, 'lib'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const text = fs.readFileSync(path.join(projectRoot, 'lib', f), 'utf8');
    for (const m of text.matchAll(/new LedgerError\('(ERR_[A-Z_]+)',/g)) {
      // The call's text up to its closing parenthesis (template literals hold no unbalanced parentheses here).
      let depth = 1;
      let i = m.index + m[0].length;
      for (; i < text.length && depth > 0; i++) depth += text[i] === '(' ? 1 : text[i] === ')' ? -1 : 0;
      const call = text.slice(m.index, i);
      const details = /,\s*\{([^{}]*)\}/.exec(call.replace(/`[^`]*`/g, '``'));
      const keys = details?.[1] ? [...details[1].matchAll(/(?:^|,)\s*(?:\.\.\.[A-Za-z.]+|([A-Za-z]+)\s*(?::|,|$))/g)].flatMap((k) => (k[1] ? [k[1]] : [])) : undefined;
      const list = out.get(m[1]) ?? [];
      list.push(keys);
      out.set(m[1], list);
    }
  }
  return out;
}

describe('error texts', () => {
  it('has a text for every ErrorCode in en-US and de', () => {
    assert.ok(codes.length >= 50, `${codes.length} codes read from lib/errors.ts`);
    for (const lang of ['en-US', 'de']) {
      const t = texts(lang);
      for (const code of codes) assert.equal(typeof t[code], 'string', `${lang}: ${errorKey(code)}`);
      for (const key of Object.keys(t)) assert.ok(codes.includes(key), `${lang}: ${key} is no ErrorCode`);
    }
  });

  it('uses only placeholders lib passes with that code (or the English reason)', () => {
    const sites = detailKeysBySite();
    let checked = 0;
    for (const lang of ['en-US', 'de']) {
      for (const [code, text] of Object.entries(texts(lang))) {
        for (const [, name] of String(text).matchAll(/__([A-Za-z0-9_]+)__/g)) {
          if (name === 'reason') continue;
          const found = sites.get(code) ?? [];
          assert.ok(found.length > 0, `${lang} ${code} uses __${name}__ but lib throws ${code} nowhere literally`);
          for (const keys of found) assert.ok(keys?.includes(name), `${lang} ${code} uses __${name}__; a site passes ${JSON.stringify(keys)}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 4, `${checked} placeholders checked`);
  });

  it('keeps lib English when the catalogue has no text or the text needs a detail the error lacks', () => {
    const err = new LedgerError('ERR_REVOKED_DEVICE', 'device x was revoked');
    const withoutText = (key: string) => key.replace(/^[^:]*:/, '');
    assert.equal(localiseError(err, withoutText), err);
    // de's text names __device__, which this error does not carry.
    const needsDevice = () => 'Gerät __device__ ist widerrufen (__reason__)';
    assert.equal(localiseError(err, needsDevice), err);
    const withDevice = new LedgerError('ERR_REVOKED_DEVICE', 'device x was revoked', { device: 'did:key:z6Mk' });
    const out = localiseError(withDevice, needsDevice);
    assert.equal(out.message, 'Gerät did:key:z6Mk ist widerrufen (device x was revoked)');
    assert.equal(out.code, 'ERR_REVOKED_DEVICE');
    assert.equal(out.details?.reason, 'device x was revoked');
    assert.equal(out.cause, withDevice);
    assert.equal(out.stack, withDevice.stack);
    // Once localised, an error is not translated again (done() may see it twice).
    assert.equal(localiseError(out, () => 'again'), out);
  });

  describe('in a Node-RED running in German', function () {
    this.timeout(30000);
    useTestRuntime();

    it('hands a Catch node the German message with the same code, the English one as its cause', async () => {
      const nodes = packNodes(await nodeRedTranslator('de'));
      await helper.load(
        nodes,
        onTab([
          ledgerNode(),
          { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 2, wires: [[], ['rejected']] },
          { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
          { id: 'caught', type: 'helper' },
          { id: 'rejected', type: 'helper' },
        ]),
      );
      const caught = nextMessage<{ error: { code: string; message: string; cause?: { message: string } } }>(helper.getNode('caught'));
      const rejected = nextMessage<{ rejected: { code: string; message: string } }>(helper.getNode('rejected'));
      helper.getNode('verify').receive({ payload: 'not an envelope at all' });
      const { error } = await caught;
      assert.equal(error.code, 'ERR_MALFORMED_ENVELOPE');
      assert.match(error.message, /^LedgerError: Signierte Nachricht fehlerhaft: /);
      const english = error.cause?.message ?? '';
      assert.ok(english.length > 0 && !english.startsWith('Signierte'), english);
      assert.ok(error.message.endsWith(english), `${error.message} carries the English reason ${english}`);
      const r = (await rejected).rejected;
      assert.equal(r.code, 'ERR_MALFORMED_ENVELOPE');
      assert.match(r.message, /^Signierte Nachricht fehlerhaft: /);
    });
  });
});
