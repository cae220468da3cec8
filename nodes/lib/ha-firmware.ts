// The Firmware node's Home Assistant side: an `update` entity per device the node has handled,
// announced by MQTT discovery, with installed and latest version published after each decision
// or report. A no-op when the node has no `ha` config node.
import type { FirmwareOutcome, FirmwareRunner } from '../../lib/gateway';
import { firmwareDiscovery, firmwareHaState, firmwareStateTopic } from '../../lib/ha';
import { haOrigin, useHa } from './ha-client';
import type { Node, NodeDef, RED } from './red';

export interface HaFirmware {
  /** After an outcome: publishes the device's update entity, or every seen device's after a release. */
  after(fw: FirmwareRunner, outcome: FirmwareOutcome): void;
}

const OFF: HaFirmware = { after: () => undefined };

export function haFirmware(RED: RED, node: Node, def: NodeDef): HaFirmware {
  const config = useHa(RED, node, def);
  if (!config) return OFF;
  const topics = config.topics;
  const seen = new Set<string>();

  const publish = (fw: FirmwareRunner, did: string): void => {
    const state = firmwareHaState(fw.state, did);
    const d = fw.state.device(did);
    // Nothing to show until a record says what the device runs.
    if (!state || !d?.current) return;
    const name = fw.gateway.devices.get(did)?.name;
    const vendor = d.current.vendor ?? d.vendor;
    const discovery = firmwareDiscovery({ did, ...(name ? { name } : {}), ...(vendor ? { vendor } : {}), class: d.current.class }, topics, haOrigin());
    const connection = config.connection();
    connection.retain(discovery.topic, JSON.stringify(discovery.config));
    connection.retain(firmwareStateTopic(topics, did), JSON.stringify(state));
  };

  return {
    after(fw, outcome) {
      try {
        const device = outcome.body.device;
        if (typeof device === 'string') {
          seen.add(device);
          publish(fw, device);
        } else {
          // A release (or a vendor key) may change the latest version of every device seen.
          for (const did of seen) publish(fw, did);
        }
      } catch (err) {
        node.warn(`Home Assistant: ${(err as Error).message}`);
      }
    },
  };
}
