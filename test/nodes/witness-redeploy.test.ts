import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { generateKey } from '../../lib/crypto';
import { leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { verifierKeyString } from '../../lib/note/note';
import { formatAddCheckpoint } from '../../lib/witness';
import { witnessRequests } from '../../nodes/lib/witness-http';
import { endServedTest, helper, loadCapturingHttpNode, onTab, packNodes, startedTestRuntime } from './support';
import { listenLocally, type LocalServer } from '../support/local-server';
import { until } from '../support/until';

// An add-checkpoint request whose body is still arriving when the Witness node is deployed
// again (a log taken out of its list) or away: it is answered by the witness deployed at the
// path when the body has arrived, not by the closed node with the configuration it replaced.

/** The helper's deploy, as the editor's deploy does it (the runtime's setFlows). */
const deploy = (flows: object[], type = 'full'): Promise<void> =>
  (helper as unknown as { setFlows(f: object[], type: string): Promise<void> }).setFlows(flows, type);

/** Sends a request's head and the first `split` bytes of its body; `finish` sends the rest and resolves with the raw answer. */
function partialPost(port: number, path: string, body: string, split: number): Promise<{ finish(): Promise<string> }> {
  const bytes = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: witness\r\nContent-Type: text/plain\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`);
      socket.write(bytes.subarray(0, split));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      const answer = new Promise<string>((done) => socket.once('close', () => done(Buffer.concat(chunks).toString('utf8'))));
      resolve({
        finish: () => {
          socket.write(bytes.subarray(split));
          return answer;
        },
      });
    });
    socket.once('error', reject);
  });
}

describe('Witness node: a request read across a deploy', function () {
  this.timeout(30000);
  const PREFIX = '/witness-redeploy-test';
  const ORIGIN = 'gw.example/redeploy';
  const OTHER = 'gw.example/other';
  const gw = generateKey('Ed25519');
  const leaves = Array.from({ length: 8 }, (_, i) => leafHash(Uint8Array.of(i)));
  const cp = (size: number) => signCheckpoint({ origin: ORIGIN, size, root: rootFromLeafHashes(leaves.slice(0, size)), extensions: [] }, ORIGIN, gw);
  const witness = (logs: string) => onTab([{ id: 'w', type: 'iot-ledger-witness', keyName: 'witness.test/redeploy', logs, prefix: PREFIX, wires: [[]] }]);
  let userDir: string;
  let server: LocalServer;
  let port: number;

  before(async () => {
    userDir = await startedTestRuntime();
    const nodeApp = await loadCapturingHttpNode(
      packNodes(), witness(verifierKeyString(ORIGIN, gw)));
    server = await listenLocally(nodeApp);
    port = server.port;
  });
  after(() => endServedTest(server, userDir));

  it('is answered by the witness deployed when its body has arrived: 404 for a log taken out, 404 with no witness left', async () => {
    const body = formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: cp(4) });
    // The log is taken out of the witness's list while the request's body is arriving.
    const first = await partialPost(port, `${PREFIX}/add-checkpoint`, body, 10);
    await until('the request being read', () => witnessRequests.stats.active === 1, { timeoutMs: 10_000, pollMs: 10 });
    await deploy(witness(verifierKeyString(OTHER, generateKey('Ed25519'))), 'nodes');
    const answer = await first.finish();
    assert.match(answer, /^HTTP\/1\.1 404 /, answer);
    assert.match(answer, /unknown origin "gw\.example\/redeploy"/);

    // The witness is deployed away while the next request's body is arriving.
    const second = await partialPost(port, `${PREFIX}/add-checkpoint`, body, 10);
    await until('the request being read', () => witnessRequests.stats.active === 1, { timeoutMs: 10_000, pollMs: 10 });
    await deploy([]);
    const gone = await second.finish();
    assert.match(gone, /^HTTP\/1\.1 404 /, gone);
    assert.match(gone, /\r\n\r\nno witness is deployed at this path\n$/);
  });
});
