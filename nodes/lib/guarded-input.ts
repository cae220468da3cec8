// Every node of the pack takes its input through this: no message may take the runtime down.
// Before a message is forwarded or handed to done(err) (which clones it for Catch nodes), a
// payload refused for its size or depth, or anything Node-RED could not clone safely, is
// replaced by a bounded summary; an exception in the handler becomes done(err), and every error
// given to done() is typed and localised (nodeError) with the node set's RED._.
import { boundMessage } from '../../lib/guards/safe-value';
import { errorCode, nodeError } from './errors';
import type { DoneFn, Node, NodeMessage, SendFn } from './red';
import type { Translate } from './status';

export type InputHandler = (msg: NodeMessage, send: SendFn, done: DoneFn) => void | Promise<void>;

function boundAll(out: Parameters<SendFn>[0]): void {
  if (!out) return;
  if (!Array.isArray(out)) {
    boundMessage(out);
    return;
  }
  for (const port of out) {
    if (Array.isArray(port)) {
      for (const m of port) if (m) boundMessage(m);
    } else if (port) boundMessage(port);
  }
}

export function onInput(node: Node, t: Translate, handler: InputHandler): void {
  node.on('input', (msg, send, done) => {
    let finished = false;
    const guardedSend: SendFn = (out) => {
      boundAll(out);
      send(out);
    };
    const guardedDone: DoneFn = (err) => {
      if (finished) return;
      finished = true;
      // Complete and Catch nodes clone the message given to done().
      boundMessage(msg, err ? errorCode(err) : undefined);
      done(err ? nodeError(err, t) : undefined);
    };
    const fail = (err: unknown) => guardedDone(nodeError(err));
    try {
      const r = handler(msg, guardedSend, guardedDone);
      if (r && typeof r.then === 'function') r.catch(fail);
    } catch (err) {
      fail(err);
    }
  });
}
