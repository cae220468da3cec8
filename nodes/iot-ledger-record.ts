import { LedgerError } from '../lib/errors';
import { errorCode, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { ledgerStatusText, useLedger } from './lib/ledger-user';
import { payloadToRecord } from './lib/record-message';
import type { Gateway, PayloadToRecord } from '../lib/gateway';
import type { DoneFn, Node, NodeDef, NodeMessage, RED, SendFn } from './lib/red';
import { formatCount, status, STATUS_EVERY_MS } from './lib/status';
import { configText } from './lib/config-text';
import { throttle, type Throttled } from '../lib/guards/throttle';

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
    let okStatus: Throttled | undefined;
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

    const failed = (done: DoneFn, err: unknown): void => {
      const code = errorCode(err);
      okStatus?.cancel();
      if (code === 'ERR_OVERLOADED') this.status(status.warn(RED._('iot-ledger-record.status.shed', { count: formatCount(++shed) })));
      else this.status(status.error(code));
      done(nodeError(err));
    };
    // Callbacks, not promises: a message costs no promise between its arrival and its durable write.
    const write = (gw: Gateway, msg: NodeMessage, type: string, send: SendFn, done: DoneFn): void => {
      let parts: PayloadToRecord;
      try {
        parts = payloadToRecord(msg, type);
      } catch (err) {
        return failed(done, err);
      }
      gw.recordPayloadThen(parts, msg.verified, (err, receipt) => {
        if (err) return failed(done, err);
        try {
          msg.ledger = receipt;
          okStatus ??= throttle(() => this.status(status.ok(ledgerStatusText(RED._, gw))), STATUS_EVERY_MS);
          okStatus.request();
          send(msg);
          done();
        } catch (e) {
          failed(done, e);
        }
      });
    };
    let ready: Gateway | undefined;
    onInput(this, RED._, (msg, send, done) => {
      const type = allowOverride && typeof msg.recordType === 'string' ? msg.recordType : configured;
      if (!TYPE_PATTERN.test(type)) return failed(done, new LedgerError('ERR_MALFORMED_RECORD', `record type ${JSON.stringify(type)} is not a lower-case word`));
      if (ready) return write(ready, msg, type, send, done);
      gateway().then(
        (gw) => {
          ready = gw;
          write(gw, msg, type, send, done);
        },
        (err: unknown) => failed(done, err),
      );
    });
  }
  RED.nodes.registerType('iot-ledger-record', Record);
};
