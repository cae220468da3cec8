import { LedgerError } from '../lib/errors';
import type { UnchangedReceipt } from '../lib/gateway';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, RED } from './lib/red';
import { status } from './lib/status';

export = function register(RED: RED): void {
  function Enrol(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const fixed = def.action === 'enrol' || def.action === 'revoke' ? def.action : undefined;

    const showCount = async () => {
      const gw = await gateway();
      this.status(status.ok(RED._('iot-ledger-enrol.status.devices', { count: gw.devices.activeCount })));
    };
    showCount().catch(() => undefined);

    onInput(this, RED._, async (msg, send, done) => {
      try {
        const request = msg.payload as Record<string, unknown> | undefined;
        const action = fixed ?? (request && typeof request === 'object' ? request.action ?? 'enrol' : 'enrol');
        if (action !== 'enrol' && action !== 'revoke')
          throw new LedgerError('ERR_INVALID_ARGUMENT', `action must be "enrol" or "revoke", got ${typeof action === 'string' ? JSON.stringify(action) : typeof action}`);
        const gw = await gateway();
        const receipt: UnchangedReceipt = action === 'enrol' ? await gw.enrol(request) : await gw.revoke(request);
        const did = (request as { did: string }).did;
        const device = gw.devices.get(did);
        const { unchanged, ...recorded } = receipt;
        msg.ledger = recorded;
        msg.payload = { action, did, name: device?.name, revoked: device?.revokedAt !== undefined, ...(unchanged ? { unchanged } : {}) };
        await showCount();
        // Enrolled as given, or revoked, already: nothing was written; the status says so until the next message.
        if (unchanged) this.status(status.ok(RED._(`iot-ledger-enrol.status.${action === 'enrol' ? 'unchangedEnrol' : 'unchanged'}`, { count: gw.devices.activeCount })));
        send(msg);
        done();
      } catch (err) {
        this.status(status.error(errorCode(err)));
        done(nodeError(err));
      }
    });
  }
  RED.nodes.registerType('iot-ledger-enrol', Enrol);
};
