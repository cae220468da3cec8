import type { Anchorer, AnchorStatus } from '../lib/anchor';
import { LedgerError } from '../lib/errors';
import type { Gateway } from '../lib/gateway';
import { anchorPayload, anchorStatus } from './lib/anchor-status';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, RED } from './lib/red';
import { status } from './lib/status';
import { configText } from './lib/config-text';

const num = (v: unknown, dflt: number): number => (v === undefined || v === '' || v === null ? dflt : Number(v));

export = function register(RED: RED): void {
  function Anchor(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const confirmations = num(def.confirmations, 12);
    let anchorer: Anchorer | undefined;
    let gw: Gateway | undefined;
    let closed = false;

    const start = async (): Promise<void> => {
      const keyFile = typeof def.keyFile === 'string' ? def.keyFile.trim() : '';
      const credential = this.credentials?.privateKey;
      const secretRpcUrl = this.credentials?.secretRpcUrl?.trim();
      const rpcUrl = secretRpcUrl || configText(def.rpcUrl).trim();
      // Node-RED leaves a setting of "${NAME}" (or the older "$(NAME)"; NAME any text without spaces,
      // @node-red/runtime flows/util.js) as it is when NAME is not set in its environment.
      const unset = [secretRpcUrl ? undefined : def.rpcUrl, def.chainId, def.contract, credential ? undefined : keyFile].flatMap((v) => {
        const m = /^\$\{(\S+)\}$|^\$\((\S+)\)$/.exec(configText(v).trim());
        return m ? [m[1] ?? m[2] ?? ''] : [];
      });
      if (unset.length > 0) throw new LedgerError('ERR_ANCHOR_CONFIG', `not set in Node-RED's environment: ${unset.join(', ')} (the node's settings name them)`);
      if (!credential && !keyFile) throw new LedgerError('ERR_ANCHOR_CONFIG', 'no account key: set the key credential or a key file (chmod 600)');
      // Loaded on first use: flows without an Anchor node do not pay for ethers at start-up.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const anchor = require('../lib/anchor') as typeof import('../lib/anchor');
      const privateKey = credential || anchor.readAnchorKeyFile(keyFile);
      const g = await gateway();
      if (closed) return;
      const a = new anchor.Anchorer(g, {
        rpcUrl,
        chainId: num(def.chainId, NaN),
        contract: configText(def.contract),
        privateKey,
        everyBlocks: num(def.everyBlocks, 0),
        everyMinutes: num(def.everyMinutes, 60),
        confirmations,
        maxFeeGwei: num(def.maxFeeGwei, 50),
        maxPriorityGwei: num(def.maxPriorityGwei, 2),
        maxBumps: num(def.maxBumps, 3),
        bumpAfterSeconds: num(def.bumpAfterSeconds, 180),
        pollSeconds: num(def.pollSeconds, 15),
      });
      a.on('status', (s: AnchorStatus) => this.status(anchorStatus(RED._, s, confirmations)));
      // Errors of the loop reach Catch nodes through node.error with a message.
      a.on('error', (err: LedgerError) => {
        const e = nodeError(err, RED._);
        this.error(e, { topic: 'anchor', payload: a.status(), error: { code: e.code, message: e.message } });
      });
      a.on('anchored', ({ body, receipt }: { body: Record<string, unknown>; receipt: unknown }) =>
        this.send({ topic: 'anchor', payload: anchorPayload(body), ledger: receipt }),
      );
      anchorer = a;
      gw = g;
      g.anchors.set(this.id, () => a.status());
      a.start();
    };

    this.status(status.waiting(RED._('iot-ledger-anchor.status.starting')));
    const started = start().catch((err: unknown) => {
      this.status(status.error(errorCode(err)));
      const e = nodeError(err, RED._);
      this.error(e, { topic: 'anchor', payload: null, error: { code: e.code, message: e.message } });
    });

    // A message anchors the latest checkpoint at the next look (whatever the interval, but a minute after the last anchor at the soonest); it never waits on the chain.
    onInput(this, RED._, (_msg, _send, done) => {
      if (anchorer) {
        anchorer.anchorNow();
        done();
      } else done(new LedgerError('ERR_ANCHOR_CONFIG', 'the anchor is not running (see the node status)'));
    });

    this.on('close', (_removed, done) => {
      closed = true;
      started
        .then(async () => {
          gw?.anchors.delete(this.id);
          await anchorer?.close();
        })
        .then(
          () => done(),
          () => done(),
        );
    });
  }
  RED.nodes.registerType('iot-ledger-anchor', Anchor, { credentials: { privateKey: { type: 'password' }, secretRpcUrl: { type: 'password' } } });
};
