// The Contract node's Home Assistant side: per contract a device with a problem binary_sensor,
// a last-value sensor and an MKT sensor, announced by MQTT discovery, and its JSON state
// published after each evaluation. A no-op when the node has no `ha` config node.
import type { ContractRunner } from '../../lib/gateway';
import { contractDiscovery, contractHaState, contractStateTopic } from '../../lib/ha';
import { haOrigin, useHa } from './ha-connection';
import type { Node, NodeDef, RED } from './red';

export interface HaContract {
  /** Announces the entities of the node's contracts and publishes their current state. */
  announce(list: readonly ContractRunner[]): void;

  /** Publishes a contract's state (sent only when it changed). */
  publish(r: ContractRunner): void;
}

let instances = 0;

const OFF: HaContract = { announce: () => undefined, publish: () => undefined };

export function haContract(RED: RED, node: Node, def: NodeDef): HaContract {
  const config = useHa(RED, node, def);
  if (!config) return OFF;
  const topics = config.topics;
  // Until this node has announced, the connection clears nothing (it might be this node's). A node
  // whose contracts fail to load never announces: nothing is cleared while it is broken.
  const announced = config.connection().hold();
  // This instance, not the node id: a redeployed node's old instance may still be finishing.
  const owner = `${node.id}#${(instances += 1)}`;
  let closed = false;
  // Publishing never fails the flow: a problem is a warning.
  const guard = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      node.warn(`Home Assistant: ${(err as Error).message}`);
    }
  };
  const publish = (r: ContractRunner): void =>
    guard(() => {
      if (closed) return;
      const state = contractHaState({ terms: r.terms, termsHash: r.ref.termsHash, active: r.active, missingParties: r.missingParties, state: r.current() });
      config.connection().retain(contractStateTopic(topics, r.terms.id), JSON.stringify(state), owner);
    });

  // What this node stops announcing (the node deleted, a contract taken out of it, Home Assistant
  // set back to none) is cleared by the connection once the next deploy has announced its own.
  node.on('close', (_removed, done) => {
    closed = true;
    // Give up the topics first: that also stops sweeping until the next deploy has started.
    guard(() => config.connection().release(owner));
    announced();
    done();
  });

  return {
    announce(list) {
      if (closed) return;
      guard(() => {
        const connection = config.connection();
        for (const r of list) {
          for (const d of contractDiscovery(r.terms, topics, haOrigin())) connection.retain(d.topic, d.config ? JSON.stringify(d.config) : '', owner);
        }
      });
      for (const r of list) publish(r);
      announced();
    },
    publish,
  };
}
