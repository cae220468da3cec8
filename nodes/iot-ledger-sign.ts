import { signEnvelope } from '../lib/envelope/envelope';
import { LedgerError } from '../lib/errors';
import { nextCounter, payloadToSign, signAsDevice } from '../lib/envelope/signing';
import type { IdentityNode } from './lib/identity';
import { nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import type { Node, NodeDef, RED } from './lib/red';
import { formatCount, status } from './lib/status';

export = function register(RED: RED): void {
  function Sign(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const identity = RED.nodes.getNode(String(def.identity)) as IdentityNode | null;
    const format = def.format === 'cose' ? 'cose' : 'jws';
    const stamp = def.stamp !== false;
    let signed = 0;
    let last = Number(this.context().get('counter')) || 0;
    if (!identity) this.status(status.error(RED._('iot-ledger-sign.status.noIdentity')));
    else this.status(status.waiting(format.toUpperCase()));

    onInput(this, RED._, (msg, send, done) => {
      try {
        if (!identity) throw new LedgerError('ERR_INVALID_ARGUMENT', RED._('iot-ledger-sign.status.noIdentity'));
        const key = identity.key();
        const now = Date.now();
        const counter = nextCounter(last, now);
        const envelope = stamp
          ? signAsDevice(msg.payload, key, counter, now, format).envelope
          : signEnvelope(payloadToSign(msg.payload), key, { format, kid: identity.did });
        last = counter;
        this.context().set('counter', counter);
        msg.payload = typeof envelope === 'string' ? envelope : Buffer.from(envelope);
        msg.signer = identity.did;
        signed++;
        this.status(status.ok(RED._('iot-ledger-sign.status.signed', { count: formatCount(signed), counter })));
        send(msg);
        done();
      } catch (err) {
        this.status(status.error(String((err as Error).message).slice(0, 40)));
        done(nodeError(err));
      }
    });
  }
  RED.nodes.registerType('iot-ledger-sign', Sign);
};
