// The Firmware node's Home Assistant side: an `update` entity per device with a firmware report
// on the ledger, announced by MQTT discovery at start, with installed and latest version
// published after each decision or report. A no-op when the node has no `ha` config node.
import type { FirmwareOutcome, FirmwareRunner } from '../../lib/gateway';
import { firmwareDiscovery, firmwareHaState, firmwareStateTopic } from '../../lib/ha';
import { haOrigin, useHa } from './ha-connection';
import type { Node, NodeDef, RED } from './red';

export interface HaFirmware {
  /** Whether the node publishes to Home Assistant. */
  readonly active: boolean;
  /** At start: announces every device the ledger has a report of. */
  announce(fw: FirmwareRunner): void;
  /** After an outcome: publishes the device's update entity, or every device's after a release. */
  after(fw: FirmwareRunner, outcome: FirmwareOutcome): void;
}

let instances = 0;

const OFF: HaFirmware = { active: false, announce: () => undefined, after: () => undefined };

export function haFirmware(RED: RED, node: Node, def: NodeDef): HaFirmware {
  const config = useHa(RED, node, def);
  if (!config) return OFF;
  const topics = config.topics;
  // Nothing is cleared until this node has announced (and never while its ledger fails to open).
  const announced = config.connection().hold();
  // This instance, not the node id: a redeployed node's old instance may still be finishing.
  const owner = `${node.id}#${(instances += 1)}`;
  let closed = false;
  node.on('close', (_removed, done) => {
    closed = true;
    try {
      // Give up the topics first: that also stops sweeping until the next deploy has started.
      config.connection().release(owner);
      announced();
    } finally {
      done();
    }
  });

  const publish = (fw: FirmwareRunner, did: string): void => {
    const state = firmwareHaState(fw.state, did);
    const d = fw.state.device(did);
    // Nothing to show until the device has reported what it runs.
    if (closed || !state || !d?.running) return;
    const name = fw.gateway.devices.get(did)?.name;
    const vendor = d.running.vendor ?? d.vendor;
    const info = { did, ...(name ? { name } : {}), ...(vendor ? { vendor } : {}), class: d.running.class, version: d.running.version };
    const discovery = firmwareDiscovery(info, topics, haOrigin());
    const connection = config.connection();
    connection.retain(discovery.topic, JSON.stringify(discovery.config), owner);
    connection.retain(firmwareStateTopic(topics, did), JSON.stringify(state), owner);
  };
  const guard = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      node.warn(`Home Assistant: ${(err as Error).message}`);
    }
  };

  return {
    active: true,
    announce(fw) {
      guard(() => {
        for (const did of fw.state.devices()) publish(fw, did);
      });
      announced();
    },
    after(fw, outcome) {
      guard(() => {
        const device = outcome.body.device;
        // A release (or a vendor key) may change the latest version of every device.
        for (const did of typeof device === 'string' ? [device] : fw.state.devices()) publish(fw, did);
      });
    },
  };
}
