import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';

/** A TCP proxy in front of a server, whose connections a test can cut abruptly (a lost network). */
export interface TcpProxy {
  url: string;
  /** Open client connections. */
  connections(): number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Destroys every open connection at once, both sides, without a close handshake. */
  cut(): void;
  /**
   * `true`: the network is down. Open connections are cut and new ones are closed as soon as they
   * come (counted by `refused()`); `false`: connections go through again.
   */
  down(isDown: boolean): void;
  /** Whether the server has sent `text` on any connection (e.g. `text/event-stream`). */
  saw(text: string): boolean;
  /** Connections closed at once because the network was down. */
  refused(): number;
  /** Stops moving bytes on every open connection without closing it (a network gone silent). */
  freeze(): void;
  /**
   * From now on, cuts each connection `delayMs` after the server sent `text` on it (a connection
   * that is accepted and then drops); `undefined` stops that.
   */
  cutAfter(text: string | undefined, delayMs?: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  let cutRule: { text: string; delayMs: number } | undefined;
  let isDown = false;
  let refused = 0;
  let seen = '';
  const server = createServer((client) => {
    if (isDown) {
      refused++;
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = new (client.constructor as typeof Socket)();
    upstream.connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.on('data', (chunk: Buffer) => {
      if (seen.length < 1_000_000) seen += chunk.toString('latin1');
      const rule = cutRule;
      if (rule && chunk.toString('latin1').includes(rule.text)) {
        setTimeout(() => {
          pairs.delete(pair);
          client.resetAndDestroy();
          upstream.destroy();
        }, rule.delayMs);
      }
    });
  });
  const cut = () => {
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => pairs.size,
    accepted: () => accepted,
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    cutAfter(text, delayMs = 0) {
      cutRule = text === undefined ? undefined : { text, delayMs };
    },
    down(value) {
      isDown = value;
      if (value) cut();
    },
    refused: () => refused,
    saw: (text) => seen.includes(text),
    cut,
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
