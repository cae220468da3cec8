import * as net from 'node:net';

/** A server could not listen; `code` is Node's (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...). */
export class ListenError extends Error {
  readonly code: string;
  readonly host: string;
  readonly port: number;

  constructor(code: string, message: string, host: string, port: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ListenError';
    this.code = code;
    this.host = host;
    this.port = port;
  }
}

/**
 * Turns a listen failure into an error a person can act on.
 * `hint` names how to pick another port, e.g. "set MQTT_PORT or --mqtt-port".
 */
export function listenError(err: unknown, host: string, port: number, hint: string): ListenError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'ELISTEN';
  const why = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'EADDRINUSE':
      return new ListenError(code, `port ${port} is in use; ${hint}`, host, port, err);
    case 'EACCES':
      return new ListenError(code, `no permission to listen on port ${port}; ${hint}`, host, port, err);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new ListenError(code, `cannot listen on host ${host}: it is not an address of this machine`, host, port, err);
    default:
      return new ListenError(code, `cannot listen on ${host}:${port}: ${why}`, host, port, err);
  }
}

/** Listens on host:port, resolving once listening or rejecting with the raw error. */
export function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((err) => (err ? reject(err) : resolve()));
  });
}

/** A TCP port that was free a moment ago (the OS picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await listen(server, 0, host);
  const port = (server.address() as net.AddressInfo).port;
  await closeServer(server);
  return port;
}

/**
 * Fails with a clear ListenError when host:port cannot be listened on right now.
 * Use before handing a port to another process that would report it less clearly.
 */
export async function assertPortFree(host: string, port: number, hint: string): Promise<void> {
  const server = net.createServer();
  try {
    await listen(server, port, host);
  } catch (err) {
    throw listenError(err, host, port, hint);
  }
  await closeServer(server);
}
