import * as net from 'node:net';
import type { Aedes } from 'aedes' with { 'resolution-mode': 'import' };
import { closeServer, listen, listenError } from './ports';

export interface BrokerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 1883; 0 lets the OS choose (see the returned port). */
  port?: number;
  /** How a person picks another port, used in the port-in-use message. */
  portHint?: string;
}

export interface RunningBroker {
  host: string;
  port: number;
  /** mqtt://host:port */
  url: string;
  /** Clients connected now. */
  readonly clients: number;
  /** What the broker holds retained under `filters` now, topic -> payload (read from its store). */
  retained(filters: string[]): Promise<Map<string, string>>;
  /** Disconnects every client, stops listening and shuts the broker down. Safe to call twice. */
  close(): Promise<void>;
}

/** Starts an in-process Aedes MQTT broker (plain TCP, no auth) and listens on host:port. */
export async function startBroker(opts: BrokerOptions = {}): Promise<RunningBroker> {
  const host = opts.host ?? '127.0.0.1';
  const wanted = opts.port ?? 1883;
  // aedes 1.x is an ES module; a dynamic import loads it from this CommonJS file on every Node 20.
  const { Aedes: AedesClass } = await import('aedes');
  const aedes: Aedes = await AedesClass.createBroker();
  const server = net.createServer(aedes.handle);
  try {
    await listen(server, wanted, host);
  } catch (err) {
    await closeAedes(aedes);
    throw listenError(err, host, wanted, opts.portHint ?? 'set MQTT_PORT or --mqtt-port');
  }
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    get clients() {
      return aedes.connectedClients;
    },
    async retained(filters) {
      const out = new Map<string, string>();
      const stream = (aedes as unknown as { persistence: RetainedStore }).persistence.createRetainedStreamCombi(filters);
      for await (const packet of stream) out.set(packet.topic, Buffer.from(packet.payload).toString());
      return out;
    },
    close() {
      // Closing aedes first ends every client connection, so server.close() does not wait on them.
      closing ??= closeAedes(aedes).then(() => closeServer(server));
      return closing;
    },
  };
}

/** The part of aedes' persistence API that lists retained messages (untyped in aedes). */
interface RetainedStore {
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<{ topic: string; payload: Uint8Array | string }>;
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()));
}
