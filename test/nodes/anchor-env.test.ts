import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../support/paths';
import { until } from '../support/until';
import { helper, packNodes, startTestRuntime, stopTestRuntime } from './support';

const VARIABLES = ['ANCHOR_RPC_URL', 'ANCHOR_CHAIN_ID', 'ANCHOR_CONTRACT', 'ANCHOR_KEY_FILE'];

interface LogEntry {
  level: number;
  type?: string;
  msg?: unknown;
}
const logged = (): LogEntry[] => (helper as unknown as { log(): { args: [LogEntry][] } }).log().args.map((a) => a[0]);

describe('nodes: Anchor settings from an environment that lacks them', function () {
  this.timeout(30000);
  let userDir: string;
  before(async () => {
    for (const v of VARIABLES) assert.equal(process.env[v], undefined, `${v} is set for this test run`);
    await new Promise<void>((resolve) => {
      userDir = startTestRuntime(resolve);
    });
  });
  after(async () => {
    await helper.unload();
    await new Promise<void>((resolve) => stopTestRuntime(userDir, resolve));
  });

  it('examples/anchoring.json with none of its variables set: ERR_ANCHOR_CONFIG names them, not a file called ${ANCHOR_KEY_FILE}', async () => {
    const flow = JSON.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'anchoring.json'), 'utf8')) as Record<string, unknown>[];
    // Only the Anchor node and its Ledger config (the rest are core nodes and notes).
    await helper.load(
      packNodes(),
      flow.filter((n) => n.type === 'tab' || String(n.type).startsWith('iot-ledger-')).map((n) => ({ ...n, wires: n.wires === undefined ? undefined : [] })),
    );
    const error = await until('the Anchor node to report an error', () => logged().find((e) => e.type === 'iot-ledger-anchor' && e.level === 20), { timeoutMs: 20000 });
    const err = error.msg as Error & { code?: string };
    assert.equal(err.code, 'ERR_ANCHOR_CONFIG', String(err));
    for (const v of VARIABLES) assert.ok(err.message.includes(v), err.message);
    assert.ok(!err.message.includes('${'), err.message);
  });

  it('names Node-RED leaves as they are too: any name without spaces, and the old $(NAME) form', async () => {
    await helper.unload();
    const flow = JSON.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'anchoring.json'), 'utf8')) as Record<string, unknown>[];
    const names = { rpcUrl: '${ANCHOR-RPC-URL}', chainId: '$(ANCHOR_CHAIN_ID)', contract: '${anchor.contract}', keyFile: '$(ANCHOR-KEY-FILE)' };
    await helper.load(
      packNodes(),
      flow
        .filter((n) => n.type === 'tab' || String(n.type).startsWith('iot-ledger-'))
        .map((n) => ({ ...n, ...(n.type === 'iot-ledger-anchor' ? names : {}), wires: n.wires === undefined ? undefined : [] })),
    );
    const error = await until('the Anchor node to report an error', () => logged().find((e) => e.type === 'iot-ledger-anchor' && e.level === 20), { timeoutMs: 20000 });
    const err = error.msg as Error & { code?: string };
    assert.equal(err.code, 'ERR_ANCHOR_CONFIG', String(err));
    for (const v of ['ANCHOR-RPC-URL', 'ANCHOR_CHAIN_ID', 'anchor.contract', 'ANCHOR-KEY-FILE']) assert.ok(err.message.includes(`${v},`) || err.message.includes(`${v} (`), err.message);
  });
});
