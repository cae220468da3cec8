import { LedgerError } from '../lib/errors';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { ledgerStatusText, useLedger } from './lib/ledger-user';
import { recordFromMessage } from './lib/record-message';
import type { Node, NodeDef, RED } from './lib/red';
import { formatCount, status } from './lib/status';
import { configText } from './lib/config-text';
import { throttleStatus, type ThrottledStatus } from './lib/status-throttle';

const TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

export = function register(RED: RED): void {
  function Record(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const configured = (configText(def.recordType) || 'reading');
    const allowOverride = def.allowOverride !== false;
    // The gateway is shared and outlives this node (a partial deploy restarts only us), so
    // the block listener goes when we do, even if we close before the gateway opened.
    let closed = false;
    let unlisten: (() => void) | undefined;
    let shed = 0;
    let okStatus: ThrottledStatus | undefined;
    gateway().then(
      (gw) => {
        if (closed) return;
        this.status(status.info(ledgerStatusText(RED._, gw)));
        const onBlock = () => this.status(status.ok(ledgerStatusText(RED._, gw)));
        gw.on('block', onBlock);
        const witnesses = gw.witnesses;
        witnesses?.on('status', onBlock);
        unlisten = () => {
          gw.off('block', onBlock);
          witnesses?.off('status', onBlock);
        };
      },
      (err) => {
        if (!closed) this.status(status.error(errorCode(err)));
      },
    );
    this.on('close', (_removed, done) => {
      closed = true;
      okStatus?.cancel();
      unlisten?.();
      unlisten = undefined;
      done();
    });

    onInput(this, RED._, async (msg, send, done) => {
      try {
        const type = allowOverride && typeof msg.recordType === 'string' ? msg.recordType : configured;
        if (!TYPE_PATTERN.test(type)) throw new LedgerError('ERR_MALFORMED_RECORD', `record type ${JSON.stringify(type)} is not a lower-case word`);
        const gw = await gateway();
        const receipt = await gw.recordMessage(recordFromMessage(msg, type), msg.verified);
        msg.ledger = receipt;
        okStatus ??= throttleStatus(() => this.status(status.ok(ledgerStatusText(RED._, gw))));
        okStatus.request();
        send(msg);
        done();
      } catch (err) {
        const code = errorCode(err);
        okStatus?.cancel();
        if (code === 'ERR_OVERLOADED') this.status(status.warn(RED._('iot-ledger-record.status.shed', { count: formatCount(++shed) })));
        else this.status(status.error(code));
        done(nodeError(err));
      }
    });
  }
  RED.nodes.registerType('iot-ledger-record', Record);
};
