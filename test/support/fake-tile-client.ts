import type { TileMqttClient } from '../../lib/tiles/mqtt';

export interface FakeTileClient extends TileMqttClient {
  connected: boolean;
  /** Publications on the resource topics (not the clearing of the request topic), with `clock()` when made. */
  sent: { topic: string; at: number; payload: Buffer }[];
  /** Hands the publisher a message on `topic`, as its broker would. */
  deliver(topic: string, payload: Buffer): void;
  /** Hands the publisher back its own publications not yet echoed (a broker's late echoes). */
  echoAll(): void;
}

/** A TileMqttClient whose broker acknowledges each publication at once and delivers only what the test hands it. */
export function fakeTileClient(clock: () => number = Date.now): FakeTileClient {
  let onMessage: ((topic: string, payload: Buffer) => void) | undefined;
  const sent: FakeTileClient['sent'] = [];
  let echoed = 0;
  return {
    connected: true,
    sent,
    publish(topic, payload, _opts, cb) {
      if (!topic.endsWith('/request')) sent.push({ topic, at: clock(), payload: Buffer.from(payload) });
      cb?.();
    },
    subscribe: (_t, _o, cb) => cb?.(null),
    unsubscribe: (_t, cb) => cb?.(),
    on(event: string, fn: unknown) {
      if (event === 'message') onMessage = fn as typeof onMessage;
    },
    off: () => undefined,
    deliver: (t, p) => onMessage?.(t, p),
    echoAll() {
      for (const s of sent.slice(echoed)) onMessage?.(s.topic, s.payload);
      echoed = sent.length;
    },
  };
}
