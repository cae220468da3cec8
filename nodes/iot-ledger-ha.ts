import { LedgerError } from '../lib/errors';
import { haTopics, missingOfflineMessages } from '../lib/ha';
import { HaConnection, isMqttBroker, type HaConfigNode } from './lib/ha-connection';
import type { NodeDef, RED } from './lib/red';
import { configText } from './lib/config-text';

export = function register(RED: RED): void {
  function HaConfig(this: HaConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    let connection: HaConnection | undefined;
    // Once closed, a node still finishing its work gets a closed connection, which publishes
    // nothing, rather than registering with the broker again.
    let closed = false;
    let problem: string | undefined;
    try {
      this.topics = haTopics(def.discoveryPrefix, def.baseTopic, def.statusTopic);
    } catch (err) {
      problem = (err as Error).message;
      this.topics = haTopics();
    }
    const brokerId = configText(def.broker).trim();
    const node = brokerId ? RED.nodes.getNode(brokerId) : null;
    const broker = isMqttBroker(node) ? node : undefined;
    if (!broker) {
      // A flow from before the broker field: its own host, port, TLS and login are no longer used.
      const host = configText(def.host).trim();
      problem ??= host ? RED._('iot-ledger-ha.errors.legacy', { host }) : RED._('iot-ledger-ha.errors.noBroker');
    }
    if (problem) this.error(new LedgerError('ERR_INVALID_ARGUMENT', `Home Assistant: ${problem}`));
    else if (broker) {
      const missing = missingOfflineMessages(this.topics, broker.options?.will, broker.closeMessage);
      if (missing.length > 0) this.warn(RED._(`iot-ledger-ha.warn.${missing.join('-')}`, { topic: `${this.topics.baseTopic}/availability` }));
    }
    this.connection = () => {
      connection ??= new HaConnection(problem || closed ? undefined : broker, this.topics, `iot-ledger-ha-${this.id}`, this);
      return connection;
    };
    // Once a deploy has started every node, what no node announces any more can be cleared.
    const started = (): void => this.connection().flowsStarted();
    RED.events.on('flows:started', started);
    this.on('close', (removed, done) => {
      RED.events.removeListener('flows:started', started);
      closed = true;
      if (!connection) return done();
      connection.close(removed).then(done, done);
    });
  }
  // The password of flows from before the Broker field: unused, declared so that the editor can
  // tell (has_password) that the new broker node needs one entered, and clear it.
  RED.nodes.registerType('iot-ledger-ha', HaConfig, { credentials: { password: { type: 'password' } } });
};
