import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { declaredCategory, packedTarball, projectPackage, scratchDir } from '../support/e2e';
import { projectRoot } from '../support/paths';

// The Flow Library scorecard: `node-red-dev validate` (the tool flows.nodered.org runs on
// every published node) on exactly what npm would publish: the packed tarball, unpacked.
//
// Where node-red-dev comes from, first found:
//   NODE_RED_DEV=<dir>   its package directory, or a prefix holding node_modules/node-red-dev
//   a devDependency      node_modules/node-red-dev of this project
//   npx                  npx --yes -p node-red-dev@NODE_RED_DEV_VERSION (cached by npm)
// It needs the npm registry (P06, P07, D02, D03). N01 and P08 also read
// https://catalogue.nodered.org/catalogue.json; when that host cannot be reached the tool
// would stop with ENOTFOUND, so it is given an empty catalogue and the test says so.

const NODE_RED_DEV_VERSION = '0.1.6';
const CATALOGUE = 'https://catalogue.nodered.org/catalogue.json';
/** Every check node-red-dev 0.1.6 scores. */
const CHECKS = ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'P08', 'N01', 'N02', 'D01', 'D02', 'D03'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function isNodeRedDev(dir: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'node-red-dev';
  } catch {
    return false;
  }
}

/** The node-red-dev package directory, and how it was found. */
async function findNodeRedDev(): Promise<{ dir: string; source: string }> {
  const configured = process.env.NODE_RED_DEV;
  if (configured) {
    for (const dir of [configured, path.join(configured, 'node_modules', 'node-red-dev')]) {
      if (isNodeRedDev(dir)) return { dir, source: `NODE_RED_DEV=${configured}` };
    }
    throw new Error(`NODE_RED_DEV=${configured} is neither node-red-dev's directory nor a prefix holding node_modules/node-red-dev`);
  }
  const local = path.join(projectRoot, 'node_modules', 'node-red-dev');
  if (isNodeRedDev(local)) return { dir: local, source: 'devDependency' };
  // npx installs it into npm's cache once; ask where its bin went.
  const r = await run('npx', ['--yes', '-p', `node-red-dev@${NODE_RED_DEV_VERSION}`, '-c', 'command -v node-red-dev'], { timeoutMs: 180_000 });
  const bin = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !bin) throw new Error(`npx could not provide node-red-dev@${NODE_RED_DEV_VERSION} (exit ${r.code}):\n${r.stderr}`);
  const dir = path.dirname(path.dirname(fs.realpathSync(bin)));
  if (!isNodeRedDev(dir)) throw new Error(`npx gave ${bin}, which is not in a node-red-dev package`);
  return { dir, source: `npx node-red-dev@${NODE_RED_DEV_VERSION}` };
}

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

/** A --require hook that answers node-red-dev's catalogue requests with an empty catalogue. */
function offlineCatalogueHook(dir: string): string {
  const file = path.join(dir, 'empty-catalogue.js');
  fs.writeFileSync(
    file,
    [
      "'use strict';",
      '// Loaded with --require: node-red-dev reads the Flow Library catalogue through axios.get.',
      "const Module = require('module');",
      'const load = Module._load;',
      'Module._load = function (request) {',
      '  const m = load.apply(this, arguments);',
      "  if (request === 'axios' && m && !m.__emptyCatalogue) {",
      '    const get = m.get.bind(m);',
      `    m.get = (url, ...rest) => (String(url).startsWith(${JSON.stringify(CATALOGUE)}) ? Promise.resolve({ data: { modules: [] } }) : get(url, ...rest));`,
      '    m.__emptyCatalogue = true;',
      '  }',
      '  return m;',
      '};',
      '',
    ].join('\n'),
  );
  return file;
}

describe('e2e: Flow Library scorecard (node-red-dev validate)', function () {
  this.timeout(240_000);

  let result: Run;
  let scorecard: Record<string, { test?: boolean; [k: string]: unknown }>;
  let offline = false;

  before(async () => {
    const [tool, tgz, online] = await Promise.all([findNodeRedDev(), packedTarball(), reachable(CATALOGUE)]);
    offline = !online;
    const work = scratchDir('scorecard');
    const untar = await run('tar', ['-xzf', tgz, '-C', work]);
    assert.equal(untar.code, 0, `tar: ${untar.stderr}`);
    const pkgDir = path.join(work, 'package');
    const out = path.join(work, 'scorecard.json');
    const args = [path.join(tool.dir, 'bin', 'run'), 'validate', '--path', pkgDir, '--output', out];
    if (offline) args.unshift('--require', offlineCatalogueHook(work));
    result = await run(process.execPath, args, { cwd: work });
    const note = offline ? `; ${new URL(CATALOGUE).host} unreachable: N01 and P08 ran against an empty catalogue` : '';
    console.log(`      node-red-dev from ${tool.source}${note}`);
    assert.ok(fs.existsSync(out), `node-red-dev wrote no scorecard (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    scorecard = JSON.parse(fs.readFileSync(out, 'utf8')) as typeof scorecard;
  });

  it('runs to the end with exit 0 and reports no error', () => {
    const text = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.code, 0, text);
    assert.match(result.stdout, /^Complete$/m, text);
    assert.deepEqual(
      text.split('\n').filter((l) => /\bError\b|Unable to (parse|read)/.test(l)),
      [],
      text,
    );
  });

  it('scores the package as published (name and version of package.json)', () => {
    const pkg = projectPackage();
    assert.deepEqual(scorecard.package, { name: pkg.name, version: pkg.version });
  });

  it('passes every check of the scorecard', () => {
    const warnings = `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => /Warning:|^ ›/.test(l));
    assert.deepEqual(Object.keys(scorecard).filter((k) => k !== 'package').sort(), [...CHECKS].sort(), 'checks scored');
    const failed = CHECKS.filter((c) => scorecard[c]?.test !== true).map((c) => `${c} ${JSON.stringify(scorecard[c])}`);
    assert.deepEqual(failed, [], `failed checks; the tool warned:\n${warnings.join('\n')}`);
  });

  it('found an example using each node of the palette (N02 looked at every one)', () => {
    // One node type per node set here; config nodes (category "config") need no example.
    const palette = Object.keys(projectPackage()['node-red'].nodes)
      .filter((set) => declaredCategory(set) !== 'config')
      .sort();
    assert.deepEqual([...((scorecard.N02?.nodes ?? []) as string[])].sort(), palette, JSON.stringify(scorecard.N02));
  });
});
