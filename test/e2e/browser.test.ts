import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { signContract, validateTerms } from '../../lib/contracts';
import { generateKey } from '../../lib/crypto';
import type { PrivateKey } from '../../lib/crypto/keys';
import { keyToDid } from '../../lib/crypto/didkey';
import {
  coldRoomFlow,
  coldRoomTerms,
  enrol,
  LedgerRuntime,
  Mailbox,
  NODE_IDS,
  Sensor,
  TOPIC,
  waitFlowSubscribed,
} from '../support/ledger-runtime';
import { declaredCategory, projectPackage } from '../support/e2e';
import { projectRoot } from '../support/paths';
import { launchChromium } from '../support/editor-session';
import { until } from '../support/until';

// The editor as a person sees it, in Debian's Chromium driven by playwright-core (which
// downloads no browser): the palette, every node's edit dialog and help, the examples in
// Import > Examples, and the Ledger sidebar, against a real Node-RED with the packed pack.

const LEDGER = 'browser-e2e';
const CATEGORY = 'iot ledger';
const pkg = projectPackage();
const artifacts = path.join(projectRoot, 'test-artifacts', 'browser');

/** Node-RED's editor globals, as far as these checks use them. */
declare const RED: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const $: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const DOMParser: any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The examples the package ships: examples/*.json, as the editor names them (file name without .json). */
function shippedExamples(): string[] {
  const dir = path.join(projectRoot, 'examples');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** The help HTML of `type` in the node set's en-US locale help file of the installed package. */
function helpSource(installed: string, setName: string, type: string): string {
  const file = path.join(installed, path.dirname(pkg['node-red'].nodes[setName]), 'locales', 'en-US', `${setName}.html`);
  const html = fs.readFileSync(file, 'utf8');
  const re = new RegExp(`<script type="text/html" data-help-name="${type}">([\\s\\S]*?)</script>`);
  const m = re.exec(html);
  if (!m) throw new Error(`${file} has no help for ${type}`);
  return m[1];
}

describe('e2e: the editor in Chromium', function () {
  this.timeout(120_000);

  let rt: LedgerRuntime;
  let box: Mailbox;
  let browser: Browser;
  let page: Page;
  let shot = 0;
  /** Console errors and uncaught page errors, each with the step it happened in. */
  const problems: string[] = [];
  let step = 'load';
  let types: { set: string; type: string; config: boolean }[] = [];
  let sensor: Sensor;
  let terms: Record<string, unknown>;
  let party: PrivateKey;

  async function screenshot(name: string): Promise<void> {
    shot++;
    await page.screenshot({ path: path.join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`) });
  }

  function problemsIn(prefix: string): string[] {
    return problems.filter((p) => p.startsWith(`[${prefix}`));
  }

  async function closeTrays(): Promise<void> {
    await page.evaluate(() => {
      while ($('.red-ui-tray').length && RED.tray) {
        const before = $('.red-ui-tray').length;
        RED.tray.close();
        if ($('.red-ui-tray').length === before) break;
      }
    });
    await page.waitForFunction(() => $('.red-ui-tray:visible').length === 0, undefined, { timeout: 10_000 });
  }

  before(async function () {
    fs.rmSync(artifacts, { recursive: true, force: true });
    fs.mkdirSync(artifacts, { recursive: true });

    // A runtime with data: a ledger, a contract, an enrolled sensor and a few readings.
    rt = await LedgerRuntime.create({ ledgerName: LEDGER, prefix: 'browser' });
    box = await Mailbox.connect(rt.broker.url, [TOPIC.ack, TOPIC.rejected, TOPIC.enrolled]);
    sensor = new Sensor('freezer-ui', generateKey('Ed25519'));
    party = generateKey('Ed25519');
    terms = coldRoomTerms([sensor.did], [keyToDid(party)]);
    await rt.nr.deployFlows(coldRoomFlow({ brokerPort: rt.broker.port, ledgerName: LEDGER, terms, blockRecords: 4, blockSeconds: 1 }));
    await waitFlowSubscribed(box);
    await enrol(box, sensor);
    for (let i = 0; i < 3; i++) {
      const p = sensor.next(-22 - i);
      await box.publish(TOPIC.reading(sensor.name), sensor.sign(p));
      await box.waitFor(`ack/${sensor.name}/${p.counter}`);
    }

    const sets = (await rt.nr.getNodes()).filter((s) => s.module === pkg.name);
    assert.deepEqual(sets.map((s) => s.name).sort(), Object.keys(pkg['node-red'].nodes).sort(), 'node sets of package.json');
    types = sets.flatMap((s) => s.types.map((type) => ({ set: s.name, type, config: false })));

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const url = m.location().url ?? '';
      // The palette manager asks catalogue.nodered.org for updates; without Internet access
      // that fails in Node-RED's own code, not in this pack's.
      if (/^Failed to load resource: net::ERR_/.test(m.text()) && url.startsWith('https://catalogue.nodered.org/')) return;
      problems.push(`[${step}] console: ${m.text()} ${url}`);
    });
    page.on('pageerror', (err) => problems.push(`[${step}] pageerror: ${err.message}`));
    await page.goto(rt.nr.url, { waitUntil: 'load' });
    await page.waitForFunction(
      () =>
        typeof RED !== 'undefined' &&
        RED.nodes &&
        RED.workspaces &&
        RED.workspaces.active() &&
        $('.red-ui-palette-node[data-palette-type="inject"]').length > 0 &&
        RED.nodes.node('e2e-verify'),
      undefined,
      { timeout: 60_000 },
    );
    for (const t of types) t.config = await page.evaluate((type) => RED.nodes.getType(type)?.category === 'config', t.type);
    await screenshot('editor-loaded');
  });

  afterEach(async () => {
    // A failed check must not leave a dialog open in front of the next one.
    if (!page) return;
    await page.evaluate(() => $('#red-ui-clipboard-dialog-cancel:visible').trigger('click')).catch(() => undefined);
    await closeTrays().catch(() => undefined);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await box?.close();
    await rt?.dispose();
  });

  it('loads the editor without console errors', () => {
    assert.deepEqual(problemsIn('load'), []);
  });

  it(`lists every node type of package.json under "${CATEGORY}" in the palette; config nodes only among config nodes`, async () => {
    step = 'palette';
    const container = `#red-ui-palette-container-${CATEGORY.replace(/ /g, '_')}`;
    assert.equal((await page.locator(`${container} .red-ui-palette-header span`).first().textContent())?.trim(), CATEGORY);
    await page.locator(container).scrollIntoViewIfNeeded();
    await screenshot('palette');
    const inPalette = (await page.locator(`${container} .red-ui-palette-node`).evaluateAll((els) =>
      els.map((e) => e.getAttribute('data-palette-type')),
    )) as string[];
    const flowTypes = types.filter((t) => !t.config).map((t) => t.type);
    assert.deepEqual([...inPalette].sort(), [...flowTypes].sort(), 'palette entries of the category');
    for (const t of flowTypes) {
      assert.ok(await page.locator(`${container} .red-ui-palette-node[data-palette-type="${t}"]`).isVisible(), `${t} visible`);
      assert.equal(await page.evaluate((type) => RED.nodes.getType(type).category, t), CATEGORY);
    }

    const configTypes = types.filter((t) => t.config).map((t) => t.type);
    const declaredConfig = types.filter((t) => declaredCategory(t.set) === 'config').map((t) => t.type);
    assert.deepEqual(configTypes.sort(), declaredConfig.sort(), 'config node types, as their .html files declare them');
    assert.ok(configTypes.includes('iot-ledger-config'));
    for (const t of configTypes) {
      assert.equal(await page.locator(`.red-ui-palette-node[data-palette-type="${t}"]`).count(), 0, `${t} is not in the palette`);
    }
    // The deployed ledger is listed among the config nodes, by its name.
    await page.evaluate(() => RED.sidebar.show('config'));
    const configSidebar = page.locator('#red-ui-sidebar-node-config');
    await configSidebar.waitFor({ state: 'visible', timeout: 10_000 });
    await screenshot('config-nodes');
    const listed = await configSidebar.locator('.red-ui-palette-node-config-type').allTextContents();
    assert.ok(listed.includes('iot-ledger-config'), `config node types listed: ${listed.join(', ')}`);
    const labels = await configSidebar.locator('.red-ui-palette-node-config .red-ui-palette-label').allTextContents();
    assert.ok(labels.includes(LEDGER), `config nodes listed: ${labels.join(', ')}`);
    assert.deepEqual(problemsIn('palette'), []);
  });

  it('opens the edit dialog of every node type without console errors', async () => {
    const z = await page.evaluate(() => RED.workspaces.active());
    for (const [i, t] of types.entries()) {
      step = `edit ${t.type}`;
      if (t.config) {
        const id = t.type === 'iot-ledger-config' ? NODE_IDS.ledger : '_ADD_';
        await page.evaluate(([type, nodeId]) => RED.editor.editConfig('', type, nodeId), [t.type, id]);
      } else {
        const id = `ui-${i}`;
        await page.evaluate(
          ([type, nodeId, ws, ledger, x]) => {
            RED.view.importNodes([{ id: nodeId, type, z: ws, x: x[0], y: x[1], ledger, wires: [] }], { generateIds: false, touchImport: true });
            RED.editor.edit(RED.nodes.node(nodeId));
          },
          [t.type, id, z, NODE_IDS.ledger, [200 + (i % 4) * 200, 460 + Math.floor(i / 4) * 70]] as const,
        );
      }
      // The node's own template is in the tray, and its inputs are filled in.
      await page.locator(`.red-ui-tray form#${t.config ? 'node-config-dialog-edit-form' : 'dialog-form'}`).first().waitFor({ state: 'visible', timeout: 10_000 });
      await page.waitForFunction(() => $('.red-ui-tray .red-ui-tray-body input[id^="node-"]').length > 0, undefined, { timeout: 10_000 });
      await page.waitForTimeout(500); // requests the dialog makes on open (ledger info)
      if (t.type === 'iot-ledger-config') {
        // The deployed ledger's public identity, from the runtime.
        await page.waitForFunction(() => /^did:key:z6Mk/.test($('#iot-ledger-config-gatewayDid').val()), undefined, { timeout: 10_000 });
      }
      if (t.type === 'iot-ledger-contract') {
        // A new node's Signatures tab asks the runtime, which does not know it yet.
        await page.locator('#iot-ledger-contract-tabs a[href="#iot-ledger-contract-tab-signatures"]').click();
        await page.locator('.red-ui-tray', { hasText: 'Deploy to register the terms' }).waitFor({ timeout: 10_000 });
      }
      await screenshot(`edit-${t.type}`);
      await closeTrays();
      assert.deepEqual(problemsIn(step), [], `${t.type} edit dialog`);
    }
  });

  it('shows the deployed contract’s parties and what they sign in its Signatures tab', async () => {
    step = 'edit deployed contract';
    await page.evaluate((id) => RED.editor.edit(RED.nodes.node(id)), NODE_IDS.contract);
    await page.locator('#iot-ledger-contract-tabs a[href="#iot-ledger-contract-tab-signatures"]').click();
    const box = page.locator('.red-ui-tray .iot-ledger-contract-box');
    await box.waitFor({ timeout: 10_000 });
    const text = (await box.textContent()) ?? '';
    assert.match(text, /Cold room 1 stays below -20 °C/);
    assert.match(text, /awaiting signatures 0\/1/);
    const signs = JSON.parse(await box.locator('textarea.iot-ledger-contract-payload').inputValue()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(signs).sort(), ['contract', 'termsHash', 'version']);
    assert.equal(signs.contract, 'cold-room-1');
    await screenshot('edit-deployed-contract-signatures');
    await closeTrays();

    // A Ledger config node just added (not deployed): the dialog says so, without a failed request.
    step = 'edit new ledger';
    await page.evaluate(() => RED.editor.editConfig('', 'iot-ledger-config', '_ADD_'));
    await page.locator('.red-ui-tray form#node-config-dialog-edit-form').waitFor({ state: 'visible', timeout: 10_000 });
    await page.locator('#iot-ledger-config-message', { hasText: 'Deploy to create the gateway key.' }).waitFor({ timeout: 10_000 });
    await screenshot('edit-new-ledger-config');
    await closeTrays();
    assert.deepEqual(problemsIn('edit deployed contract'), []);
    assert.deepEqual(problemsIn('edit new ledger'), []);
  });

  it('renders every node type’s help in the help sidebar (first paragraph present)', async () => {
    const installed = path.join(rt.userDir, 'node_modules', pkg.name);
    for (const t of types) {
      step = `help ${t.type}`;
      await page.evaluate((type) => RED.sidebar.help.show(type, true), t.type);
      await page.locator('.red-ui-help-title:visible').first().waitFor({ timeout: 10_000 });
      const { expected, shown, title } = await page.evaluate((source) => {
        const doc = new DOMParser().parseFromString(`<body>${source}</body>`, 'text/html');
        const norm = (s: string | null | undefined): string => (s ?? '').replace(/\s+/g, ' ').trim();
        const firstP = doc.querySelector('p');
        return {
          expected: norm(firstP?.textContent),
          shown: norm($('.red-ui-help:visible').first().text()),
          title: norm($('.red-ui-help-title:visible').first().text()),
        };
      }, helpSource(installed, t.set, t.type));
      assert.ok(expected.length > 20, `${t.type} help starts with a paragraph: "${expected}"`);
      assert.ok(shown.includes(expected), `${t.type} help shows "${expected}"; the sidebar shows "${shown.slice(0, 300)}"`);
      assert.ok(title.length > 0 && title !== t.type, `${t.type} help has its palette label as title, got "${title}"`);
      await screenshot(`help-${t.type}`);
      assert.deepEqual(problemsIn(step), []);
    }
  });

  it('lists exactly the examples in examples/ under the package in Import > Examples', async () => {
    step = 'examples';
    const expected = shippedExamples();
    await page.evaluate(() => RED.actions.invoke('core:show-import-dialog'));
    const tab = page.locator('#red-ui-clipboard-dialog-import-tabs a[href="#red-ui-clipboard-dialog-import-tab-examples"]');
    await tab.click();
    const pane = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    await pane.waitFor({ state: 'visible' });
    // Examples > flows > one folder per module with examples (Node-RED's own is always there).
    const moduleFolders = (): Promise<string[]> =>
      page.evaluate(() => {
        const flows = $('#red-ui-clipboard-dialog-import-tab-examples .red-ui-treeList-label-text')
          .filter((_: number, e: unknown) => $(e).text() === 'flows')
          .closest('li');
        return flows
          .find('> div > .red-ui-editableList > div > ol > li > div > .red-ui-treeList-label .red-ui-treeList-label-text')
          .map((_: number, e: unknown) => $(e).text())
          .get();
      });
    // All module folders arrive in one answer: once any is there (Node-RED's own at least), all are.
    const folders = await until(
      'a module in Import > Examples',
      async () => {
        const listed = await moduleFolders();
        return listed.length > 0 && listed;
      },
      { timeoutMs: 10_000, pollMs: 100 },
    );
    assert.ok(folders.length > 0, 'Import > Examples listed no module at all');
    if (expected.length === 0) {
      await screenshot('examples-none');
      assert.ok(!folders.includes(pkg.name), `examples/ holds no *.json, yet Import > Examples lists ${pkg.name}`);
    } else {
      assert.ok(folders.includes(pkg.name), `${pkg.name} in Import > Examples (folders: ${folders.join(', ')})`);
      const folder = pane.locator('.red-ui-treeList-label', { has: page.locator('.red-ui-treeList-label-text', { hasText: new RegExp(`^${pkg.name}$`) }) });
      await folder.click();
      const children = folder.locator('xpath=following-sibling::div[contains(@class,"red-ui-editableList")]//span[contains(@class,"red-ui-treeList-label-text")]');
      await children.first().waitFor({ timeout: 10_000 });
      await page.waitForTimeout(300); // the folder's items arrive in one answer; let them render
      const listed = (await children.allTextContents()).map((t) => t.trim()).sort();
      await screenshot('examples');
      assert.deepEqual(listed, expected, 'Import > Examples lists exactly examples/*.json');
    }
    await page.locator('#red-ui-clipboard-dialog-cancel').click();
    assert.deepEqual(problemsIn('examples'), []);
  });

  it('shows the ledger, its name and size, in the Ledger sidebar tab', async () => {
    step = 'sidebar';
    const { ledgers } = await rt.nr.admin.request<{ ledgers: { name: string; size: number; blocks: number }[] }>('GET', '/iot-ledger/sidebar');
    assert.deepEqual(ledgers.map((l) => l.name), [LEDGER]);
    const size = ledgers[0].size;
    assert.ok(size >= 5, `the ledger holds the enrolment, the contract and 3 readings: ${size}`);
    await page.evaluate(() => RED.sidebar.show('iot-ledger'));
    const panel = page.locator('.iot-ledger-sidebar');
    await panel.waitFor({ state: 'visible', timeout: 10_000 });
    await page.waitForFunction((name) => $('.iot-ledger-sidebar').text().includes(`Ledger · ${name}`), LEDGER, { timeout: 15_000 });
    const records = await page.evaluate(() => {
      const row = $('.iot-ledger-sidebar-info tr').filter((_: number, tr: unknown) => $(tr).children().first().text() === 'Records');
      return row.children().eq(1).text();
    });
    await screenshot('ledger-sidebar');
    const shown = Number(String(records).split(' ')[0].replace(/\u202f/g, ''));
    assert.equal(shown, size, `Records shows "${records}", the runtime reports ${size}`);
    assert.deepEqual(problemsIn('sidebar'), []);
  });

  it('updates the Ledger sidebar by a push over RED.comms when a reading is recorded (no polling, no click)', async () => {
    step = 'sidebar push';
    const shownRecords = (): Promise<number> =>
      page.evaluate(() => {
        const row = $('.iot-ledger-sidebar-info tr').filter((_: number, tr: unknown) => $(tr).children().first().text() === 'Records');
        return Number(String(row.children().eq(1).text()).split(' ')[0].replace(/\u202f/g, ''));
      });
    // Every admin request the page makes from now on: the update must not come from one.
    const fetched: string[] = [];
    const onRequest = (r: { url(): string }): void => {
      if (r.url().includes('/iot-ledger/sidebar')) fetched.push(r.url());
    };
    page.on('request', onRequest);
    try {
      const before = await shownRecords();
      const p = sensor.next(-23);
      await box.publish(TOPIC.reading(sensor.name), sensor.sign(p));
      await box.waitFor(`ack/${sensor.name}/${p.counter}`);
      await page.waitForFunction(
        (n) => {
          const row = $('.iot-ledger-sidebar-info tr').filter((_: number, tr: unknown) => $(tr).children().first().text() === 'Records');
          return Number(String(row.children().eq(1).text()).split(' ')[0].replace(/\u202f/g, '')) > n;
        },
        before,
        { timeout: 15_000 },
      );
      assert.ok((await shownRecords()) > before);
      assert.deepEqual(fetched.filter((u) => !u.includes('/series')), [], 'the ledger state came over comms, not from the admin route');
    } finally {
      page.off('request', onRequest);
    }
    assert.deepEqual(problemsIn('sidebar push'), []);
  });

  it('Identity dialog: no "already has a key" after the first Generate key, and names its real button (Add, then Update)', async () => {
    step = 'identity';
    await page.evaluate(() => RED.editor.editConfig('', 'iot-ledger-identity', '_ADD_'));
    await page.locator('.red-ui-tray form#node-config-dialog-edit-form').waitFor({ state: 'visible', timeout: 10_000 });
    const replace = page.locator('#iot-ledger-identity-replace');
    const message = page.locator('#iot-ledger-identity-message');
    await page.locator('#node-config-input-name').fill('ui identity');
    await page.locator('#iot-ledger-identity-generate').click();
    await message.filter({ hasText: 'key generated' }).waitFor({ timeout: 15_000 });
    assert.match((await message.textContent()) ?? '', /New .* key generated\. Press Add, then Deploy, to keep it\./);
    assert.equal(await replace.isVisible(), false, 'a key made in this dialog replaces nothing');
    assert.match(await page.locator('#node-config-input-did').inputValue(), /^did:key:z/);
    await page.locator('#node-config-dialog-ok').click();
    await page.waitForFunction(() => $('.red-ui-tray:visible').length === 0, undefined, { timeout: 10_000 });

    // Opened again: it has a key now, so a new one would replace it; the button is Update.
    const id = await page.evaluate(() => {
      let found = '';
      RED.nodes.eachConfig((n: { id: string; type: string; name?: string }) => {
        if (n.type === 'iot-ledger-identity' && n.name === 'ui identity') found = n.id;
      });
      return found;
    });
    assert.ok(id, 'the identity was added');
    await page.evaluate((nodeId) => RED.editor.editConfig('', 'iot-ledger-identity', nodeId), id);
    await page.locator('.red-ui-tray form#node-config-dialog-edit-form').waitFor({ state: 'visible', timeout: 10_000 });
    await replace.waitFor({ state: 'visible', timeout: 10_000 });
    await page.locator('#iot-ledger-identity-generate').click();
    await message.filter({ hasText: 'Press Update' }).waitFor({ timeout: 15_000 });
    await screenshot('identity-regenerate');
    await closeTrays();
    await page.evaluate((nodeId) => {
      const n = RED.nodes.node(nodeId);
      if (n) RED.nodes.remove(nodeId);
    }, id);
    assert.deepEqual(problemsIn('identity'), []);
  });

  it('sidebar chart: the excursion in its colour, from the violation on in the violation colour', async () => {
    step = 'chart';
    const events = await Mailbox.connect(rt.broker.url, [TOPIC.events, TOPIC.ack]);
    try {
      await events.publish(TOPIC.sign, signContract(validateTerms(terms), party, { kid: keyToDid(party) }) as string);
      await events.waitFor(`contract/${String(terms.id)}/party.signed`);
      // Out of range for longer than the alarm's 2 s: an excursion that becomes a violation.
      const out = sensor.next(-19);
      await events.publish(TOPIC.reading(sensor.name), sensor.sign(out));
      await events.waitFor(`contract/${String(terms.id)}/excursion.started`);
      await events.waitFor(`contract/${String(terms.id)}/violation`, () => true, 20_000);
      const back = sensor.next(-23);
      await events.publish(TOPIC.reading(sensor.name), sensor.sign(back));
      await events.waitFor(`contract/${String(terms.id)}/excursion.ended`);
    } finally {
      await events.close();
    }
    await page.evaluate(() => RED.sidebar.show('iot-ledger'));
    await page.locator('.iot-ledger-sidebar-contract').first().click();
    await page.waitForFunction(() => $('.iot-ledger-sidebar-chart-box rect.iot-ledger-sidebar-chart-violation').length > 0, undefined, { timeout: 15_000 });
    const bands = await page.evaluate(() =>
      ['excursion', 'violation'].map((k) =>
        $(`.iot-ledger-sidebar-chart-box rect.iot-ledger-sidebar-chart-${k}`)
          .toArray()
          .map((r: { getAttribute(name: string): string | null; textContent: string | null }) => ({ x: Number(r.getAttribute('x')), width: Number(r.getAttribute('width')), title: r.textContent ?? '' })),
      ),
    );
    await screenshot('sidebar-chart-excursion-violation');
    const [[excursion], [violation]] = bands;
    assert.ok(excursion && violation, JSON.stringify(bands));
    assert.ok(excursion.x < violation.x, `the violation starts after the excursion: ${JSON.stringify(bands)}`);
    assert.ok(Math.abs(excursion.x + excursion.width - violation.x) < 1.5, `the violation begins where the excursion part ends: ${JSON.stringify(bands)}`);
    assert.match(violation.title, /^violation /);
    const legend = await page.evaluate(() => $('.iot-ledger-sidebar-legend').text());
    assert.match(legend, /excursion/);
    assert.match(legend, /violation/);
    assert.deepEqual(problemsIn('chart'), []);
  });

  it('raised no console or page error anywhere', () => {
    assert.deepEqual(problems, []);
  });
});
