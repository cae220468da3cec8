import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../support/paths';

// Every message key the runtime (nodes/*.ts, nodes/lib) and the editor (nodes/editor: code and
// form templates) use exists in the en-US catalogue of the node set that looks it up, and every
// other language's keys are a subset of en-US.

const nodesDir = path.join(projectRoot, 'nodes');
const locales = path.join(nodesDir, 'locales');
const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  'node-red': { nodes: Record<string, string>; plugins: Record<string, string> };
};
const sets = [...Object.keys(pkg['node-red'].nodes), ...Object.keys(pkg['node-red'].plugins)];

type Catalogue = Record<string, unknown>;

function flatten(o: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (o && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  else out.add(prefix);
  return out;
}

function catalogue(lang: string, set: string): Set<string> {
  const file = path.join(locales, lang, `${set}.json`);
  return fs.existsSync(file) ? flatten(JSON.parse(fs.readFileSync(file, 'utf8')) as Catalogue) : new Set();
}

function files(dir: string, re: RegExp): string[] {
  // Names, not Dirents: Dirent.parentPath needs Node 20.12, and the unit tests run on 20.11 too.
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(dir, name))
    .filter((p) => re.test(path.basename(p)) && fs.statSync(p).isFile());
}

/** Literal keys "iot-ledger-x.a.b" (optionally "module/set:" namespaced) in a source text. */
function keysIn(text: string): string[] {
  const out: string[] = [];
  const re = /["'`](?:\[[a-z]+\])?((?:node-red-contrib-iot-ledger\/(iot-ledger-[a-z]+):)?iot-ledger-[a-z]+\.[A-Za-z0-9_.-]*[A-Za-z0-9_])["'`]/g;
  for (const m of text.matchAll(re)) if (!m[1].endsWith('.svg')) out.push(m[1]);
  return out;
}

describe('locale catalogues', () => {
  it('has an en-US catalogue and help file for every node set', () => {
    for (const set of sets) {
      assert.ok(catalogue('en-US', set).size > 0, `${set}.json`);
      if (set !== 'iot-ledger-sidebar') assert.ok(fs.existsSync(path.join(locales, 'en-US', `${set}.html`)), `${set}.html`);
    }
  });

  it('every key the editor modules use is in en-US', () => {
    let checked = 0;
    for (const dir of fs.readdirSync(path.join(nodesDir, 'editor'))) {
      if (dir === 'shared') continue;
      const set = `iot-ledger-${dir}`;
      const own = catalogue('en-US', set);
      for (const file of files(path.join(nodesDir, 'editor', dir), /\.(ts|html)$/)) {
        const text = fs.readFileSync(file, 'utf8').replace(/data-i18n="/g, '"');
        for (const key of keysIn(text)) {
          const ns = /^node-red-contrib-iot-ledger\/(iot-ledger-[a-z]+):(.*)$/.exec(key);
          const [where, k] = ns ? [ns[1], ns[2]] : [set, key];
          assert.ok(catalogue('en-US', where).has(k), `${path.relative(projectRoot, file)} uses ${key}, missing in en-US/${where}.json`);
          checked++;
        }
      }
      assert.ok(own.size > 0);
    }
    assert.ok(checked > 100, `${checked} keys checked`);
  });

  it('every key the runtime looks up with RED._ is in the en-US catalogue of each node set that may look it up', () => {
    let checked = 0;
    const runtime = files(nodesDir, /\.ts$/).filter((f) => !path.relative(nodesDir, f).startsWith(`editor${path.sep}`));
    for (const file of runtime) {
      const text = fs.readFileSync(file, 'utf8');
      const keys = [...text.matchAll(/RED\._\(\s*['`](iot-ledger-[a-z]+\.[A-Za-z0-9_.]+)['`]/g)].map((m) => m[1]);
      // A helper's t(key) is its caller's RED._: the key is in the catalogue of the set it names.
      for (const m of text.matchAll(/\bt\(\s*(?:[^'`()]*\?\s*)?['`](iot-ledger-[a-z]+)(\.[A-Za-z0-9_.]+)['`](?:\s*:\s*['`]\1(\.[A-Za-z0-9_.]+)['`])?/g)) {
        for (const rest of [m[2], m[3]].filter((x): x is string => !!x)) {
          assert.ok(catalogue('en-US', m[1]).has(m[1] + rest), `${path.relative(projectRoot, file)} looks up ${m[1]}${rest}; missing in en-US/${m[1]}.json`);
          checked++;
        }
      }
      // Template keys such as `iot-ledger-verify.status.${key}`: check the prefix's known completions.
      const prefixes = [...text.matchAll(/RED\._\(`(iot-ledger-[a-z]+\.[A-Za-z0-9_.]+\.)\$\{/g)].map((m) => m[1]);
      const base = path.basename(file, '.ts');
      // A node file looks keys up in its own set's catalogue; a shared helper in any set that uses it.
      const lookers = base.startsWith('iot-ledger-') ? [base] : sets.filter((s) => runtimeUses(s, path.basename(file, '.ts')));
      for (const set of lookers) {
        const cat = catalogue('en-US', set);
        for (const key of keys) {
          assert.ok(cat.has(key), `${path.relative(projectRoot, file)} looks up ${key}; missing in en-US/${set}.json`);
          checked++;
        }
        for (const p of prefixes) assert.ok([...cat].some((k) => k.startsWith(p)), `${p}* in en-US/${set}.json`);
      }
    }
    assert.ok(checked >= 15, `${checked} keys checked`);
  });

  it('de (and every other language) holds only keys en-US has, and at least the palette labels and status texts', () => {
    const langs = fs.readdirSync(locales).filter((l) => l !== 'en-US');
    assert.ok(langs.includes('de'));
    for (const lang of langs) {
      for (const file of fs.readdirSync(path.join(locales, lang)).filter((f) => f.endsWith('.json'))) {
        const set = file.slice(0, -5);
        const en = catalogue('en-US', set);
        for (const key of catalogue(lang, set)) assert.ok(en.has(key), `${lang}/${file}: ${key} is not in en-US`);
      }
    }
    for (const set of sets) {
      const de = catalogue('de', set);
      for (const key of catalogue('en-US', set)) {
        if (/^iot-ledger-[a-z]+\.(paletteLabel|status\.)/.test(key)) assert.ok(de.has(key), `de/${set}.json lacks ${key}`);
      }
    }
  });
});

/** Whether node set `set`'s runtime module imports the nodes/lib helper `helper` (directly or one level down). */
function runtimeUses(set: string, helper: string): boolean {
  const seen = new Set<string>();
  const visit = (file: string, depth: number): boolean => {
    if (seen.has(file) || !fs.existsSync(file)) return false;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), `${m[1]}.ts`);
      if (path.basename(target, '.ts') === helper && path.relative(nodesDir, target).startsWith(`lib${path.sep}`)) return true;
      if (depth < 2 && !path.relative(nodesDir, target).startsWith('..') && visit(target, depth + 1)) return true;
    }
    return false;
  };
  return visit(path.join(nodesDir, `${set}.ts`), 0);
}
