// An HTTP server on a free port of 127.0.0.1 for a test, and closing it with its connections.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalServer {
  port: number;
  close(): Promise<void>;
}

export async function listenLocally(handler: http.RequestListener | undefined): Promise<LocalServer> {
  if (!handler) throw new Error('no request handler to serve (was the runtime started?)');
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
