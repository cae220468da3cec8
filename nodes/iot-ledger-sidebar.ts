// The Ledger sidebar: an editor plugin. This runtime part serves what the tab shows, read from
// the ledgers open in this Node-RED (nodes/lib/sidebar-routes), and pushes it to the editors when
// a ledger changes (nodes/lib/sidebar-push); the tab is nodes/editor/sidebar.
import type { RED } from './lib/red';
import { pushSidebar, type Comms } from './lib/sidebar-push';
import { addRoutes } from './lib/sidebar-routes';

interface PluginDefinition {
  type: string;
  onadd?: () => void;
}

/** The runtime's plugin API (Node-RED 1.3+); a host without it gets no sidebar endpoints. */
type PluginRED = RED & { plugins?: { registerPlugin(id: string, definition: PluginDefinition): void }; comms?: Comms };

export = function register(RED: PluginRED): void {
  RED.plugins?.registerPlugin('iot-ledger-sidebar', {
    type: 'iot-ledger-sidebar',
    onadd() {
      addRoutes(RED);
      if (RED.comms) pushSidebar(RED.comms);
    },
  });
};
