import { LedgerError } from '../lib/errors';
import { errorCode, nodeError } from './lib/errors';
import { ledgerStatusText, useLedger } from './lib/ledger-user';
import { recordFromMessage } from './lib/record-message';
import type { Node, NodeDef, RED } from './lib/red';
import { status } from './lib/status';

const TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

export = function register(RED: RED): void {
  function Record(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const configured = String(def.recordType || 'reading');
    const allowOverride = def.allowOverride !== false;
    gateway().then(
      (gw) => {
        this.status(status.info(ledgerStatusText(gw)));
        const show = () => this.status(status.ok(ledgerStatusText(gw)));
        gw.on('block', show);
        const witnesses = gw.witnesses;
        witnesses?.on('status', show);
        this.on('close', (_removed, done) => {
          gw.off('block', show);
          witnesses?.off('status', show);
          done();
        });
      },
      (err) => this.status(status.error(errorCode(err))),
    );

    this.on('input', async (msg, send, done) => {
      try {
        const type = allowOverride && typeof msg.recordType === 'string' ? msg.recordType : configured;
        if (!TYPE_PATTERN.test(type)) throw new LedgerError('ERR_MALFORMED_RECORD', `record type ${JSON.stringify(type)} is not a lower-case word`);
        const gw = await gateway();
        const receipt = await gw.recordMessage(recordFromMessage(msg, type), msg.verified);
        msg.ledger = receipt;
        this.status(status.ok(ledgerStatusText(gw)));
        send(msg);
        done();
      } catch (err) {
        this.status(status.error(errorCode(err)));
        done(nodeError(err));
      }
    });
  }
  RED.nodes.registerType('iot-ledger-record', Record);
};
