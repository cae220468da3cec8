import { randomBytes } from 'node:crypto';
import { haTopics } from '../lib/ha';
import { HaConnection, type HaConfigNode } from './lib/ha-client';
import type { NodeDef, RED } from './lib/red';
import { configText } from './lib/config-text';

export = function register(RED: RED): void {
  function HaConfig(this: HaConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const port = Number(def.port);
    const tls = def.tls === true || def.tls === 'true';
    let connection: HaConnection | undefined;
    // Once closed, a node still finishing its work gets a closed connection, which publishes
    // nothing, rather than a new client nobody would close.
    let closed = false;
    let problem: string | undefined;
    try {
      this.topics = haTopics(def.discoveryPrefix, def.baseTopic, def.statusTopic);
    } catch (err) {
      problem = (err as Error).message;
      this.topics = haTopics();
    }
    const host = configText(def.host).trim();
    if (!host) problem ??= 'no broker host';
    if (problem) this.error(`Home Assistant: ${problem}; nothing is published`);
    this.connection = () => {
      if (!connection) {
        connection = new HaConnection({
          host,
          port: Number.isInteger(port) && port > 0 && port < 65536 ? port : tls ? 8883 : 1883,
          tls,
          username: typeof def.username === 'string' && def.username ? def.username : undefined,
          password: this.credentials?.password || undefined,
          topics: this.topics,
          clientId: `iot-ledger-${this.id.replace(/[^A-Za-z0-9]/g, '')}-${randomBytes(3).toString('hex')}`,
          log: this,
        });
        // A broken configuration (or a closed node) keeps a connection that never publishes.
        if (problem || closed) void connection.close();
      }
      return connection;
    };
    // Once a deploy has started every node, what no node announces any more can be cleared.
    const started = (): void => this.connection().flowsStarted();
    RED.events.on('flows:started', started);
    this.on('close', (_removed, done) => {
      RED.events.removeListener('flows:started', started);
      closed = true;
      if (!connection) return done();
      connection.close().then(done, done);
    });
  }
  RED.nodes.registerType('iot-ledger-ha', HaConfig, { credentials: { password: { type: 'password' } } });
};
