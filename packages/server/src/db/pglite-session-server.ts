import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

/**
 * Serves one PGlite session (PGlite has exactly one) over the Postgres protocol on a Unix socket to
 * several connections, one transaction at a time.
 *
 * A connection owns the session from its first message until PGlite answers it with ReadyForQuery
 * 'idle': a whole transaction (BEGIN ... COMMIT, or an extended-protocol exchange up to its Sync)
 * runs with nobody else's messages in between. What other connections send meanwhile waits here,
 * in order, and runs the moment the session is free: PGlite never waits for the client to read an
 * answer and write the next request, which is what a single connection made it do (the embedded
 * server's database thread idled a third of the time under load, with work waiting in the other).
 *
 * A connection that goes away while it owns the session has its unfinished exchange closed (Sync)
 * and its open transaction rolled back before anyone else runs.
 *
 * Each connection's messages that have arrived go to PGlite in one call and the answer goes back in
 * one write. (@electric-sql/pglite-socket, which this replaces, handed PGlite one message at a time
 * and took turns only at explicit transactions: an exchange left open by a client that went away
 * stayed open for the next one.)
 */
export class PGliteSessionServer {
  readonly #db: PGlite;
  readonly #path: string;
  readonly #maxConnections: number;
  #server: Server | undefined;
  readonly #connections = new Set<Connection>();
  /** Connections with complete messages waiting, in the order they asked; the owner is not here. */
  readonly #waiting: Connection[] = [];
  #owner: Connection | undefined;
  /** In #pump (which a socket closing while it writes can reach again). */
  #running = false;

  constructor(opts: { db: PGlite; path: string; maxConnections?: number }) {
    this.#db = opts.db;
    this.#path = opts.path;
    this.#maxConnections = opts.maxConnections ?? 8;
  }

  start(): Promise<void> {
    const server = createServer((socket) => this.#accept(socket));
    server.maxConnections = this.#maxConnections;
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const c of this.#connections) c.socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const c: Connection = {
      socket,
      partial: [],
      partialBytes: 0,
      need: 0,
      messages: [],
      started: false,
      closed: false,
      queued: false,
    };
    this.#connections.add(c);
    socket.on('data', (chunk: Buffer) => this.#receive(c, chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.#closed(c));
  }

  /** Splits what arrived into whole messages and queues them. */
  #receive(c: Connection, chunk: Buffer): void {
    // A large message arrives in many chunks: they are kept apart until it is whole (joining them
    // as each arrived would copy it once per chunk).
    c.partial.push(chunk);
    c.partialBytes += chunk.length;
    if (c.partialBytes < c.need) return;
    const buf = c.partial.length === 1 ? c.partial[0]! : Buffer.concat(c.partial, c.partialBytes);
    let at = 0;
    for (;;) {
      if (!c.started) {
        // Untyped start-up messages: length, then a code (SSL and GSS encryption requests, the
        // startup packet itself, a cancel request).
        if (buf.length - at < 8) break;
        const len = buf.readInt32BE(at);
        if (len < 8 || len > MAX_STARTUP) return void c.socket.destroy();
        if (buf.length - at < len) break;
        const code = buf.readInt32BE(at + 4);
        if (code === SSL_REQUEST || code === GSS_REQUEST) {
          c.socket.write('N'); // no encryption on a private socket: the client goes on in clear
        } else if (code === CANCEL_REQUEST) {
          return void c.socket.destroy();
        } else {
          c.messages.push(buf.subarray(at, at + len));
          c.started = true;
        }
        at += len;
        continue;
      }
      if (buf.length - at < 5) break;
      const len = buf.readInt32BE(at + 1);
      if (len < 4) return void c.socket.destroy();
      if (buf.length - at < 1 + len) break;
      if (buf[at] === TERMINATE) {
        c.socket.end();
        at = buf.length;
        break;
      }
      c.messages.push(buf.subarray(at, at + 1 + len));
      at += 1 + len;
    }
    const rest = buf.length - at;
    c.partial = rest === 0 ? [] : [Buffer.from(buf.subarray(at))];
    c.partialBytes = rest;
    // The next message's whole length, once its header is here (a start-up message's is its first word).
    c.need = rest >= 5 ? (c.started ? 1 + buf.readInt32BE(at + 1) : buf.readInt32BE(at)) : 0;
    if (c.messages.length > 0 && c !== this.#owner && !c.queued) {
      c.queued = true;
      this.#waiting.push(c);
    }
    void this.#pump();
  }

  /**
   * Runs queued messages while there are any the session can take. PGlite works synchronously:
   * each await below resumes in the same turn, before any socket event, so the loop runs as one.
   */
  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (;;) {
        if (!this.#owner) {
          const next = this.#waiting.shift();
          if (!next) break;
          next.queued = false;
          if (next.closed) continue;
          this.#owner = next;
        }
        const owner = this.#owner;
        // The owner is mid-exchange and has sent nothing more yet: the session waits for it.
        if (owner.messages.length === 0) break;
        // A start-up packet goes to PGlite on its own (it answers it apart from the protocol loop).
        const first = owner.messages[0]!;
        const batch = first[0] === 0 ? owner.messages.splice(0, 1) : owner.messages.splice(0);
        const status = await this.#execute(owner, batch);
        if (status === 'I' && this.#owner === owner) {
          this.#owner = undefined;
          if (owner.messages.length > 0 && !owner.closed) {
            owner.queued = true;
            this.#waiting.push(owner);
          }
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * Hands the messages to PGlite and their answer to the connection (one write); returns the
   * transaction status of the answer's last ReadyForQuery, if it ends with one.
   */
  async #execute(c: Connection, batch: Buffer[]): Promise<string | undefined> {
    const input = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    const chunks: Buffer[] = [];
    try {
      // Nothing else in this thread uses PGlite while it serves, so its query lock is not needed;
      // and a data folder on disk (Node's file system) has nothing to sync after a message. The
      // answer comes as views of PGlite's memory, copied here (small ones into Node's buffer pool).
      // execProtocolRawSync's own copy, a new ArrayBuffer per answer, left ~15 MB of freed malloc
      // memory in this thread after 2,000 runs (RSS 285 MB against 270).
      await this.#db.execProtocolRawStream(new Uint8Array(input.buffer, input.byteOffset, input.length), {
        syncToFs: false,
        onRawData: (d) => chunks.push(Buffer.from(d)),
      });
    } catch {
      // Not an SQL error (those are answered in the protocol): PGlite itself failed. The client
      // cannot know where its exchange stands: it is disconnected, and the session reset.
      c.closed = true;
      c.messages.length = 0;
      c.socket.destroy();
      this.#abandon();
      return 'I';
    }
    const answer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (!c.closed && answer.length > 0) c.socket.write(answer);
    return lastReadyForQuery(answer);
  }

  #closed(c: Connection): void {
    c.closed = true;
    c.messages.length = 0;
    this.#connections.delete(c);
    if (this.#owner !== c) return;
    // Gone mid-exchange or mid-transaction: close the one and roll back the other.
    this.#abandon();
    this.#owner = undefined;
    void this.#pump();
  }

  /** Ends whatever exchange and transaction the session is in, answering nobody. */
  #abandon(): void {
    // Both run synchronously (their promises settle later, with nothing to say).
    const ignore = { syncToFs: false, onRawData: () => {} };
    void this.#db.execProtocolRawStream(SYNC, ignore).catch(() => {});
    if (this.#db.isInTransaction()) void this.#db.execProtocolRawStream(ROLLBACK, ignore).catch(() => {});
  }
}

interface Connection {
  socket: Socket;
  /** Chunks of an incomplete message, their length, and the message's length once known (else 0). */
  partial: Buffer[];
  partialBytes: number;
  need: number;
  /** Complete messages not yet handed to PGlite. */
  messages: Buffer[];
  /** Past its start-up packet. */
  started: boolean;
  closed: boolean;
  /** In the waiting list. */
  queued: boolean;
}

const MAX_STARTUP = 10_000;
const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const TERMINATE = 0x58; // 'X'
const READY_FOR_QUERY = 0x5a; // 'Z'
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
const ROLLBACK = (() => {
  const sql = Buffer.from('ROLLBACK\0');
  const m = Buffer.alloc(5 + sql.length);
  m[0] = 0x51; // 'Q'
  m.writeInt32BE(4 + sql.length, 1);
  sql.copy(m, 5);
  return new Uint8Array(m);
})();

/** The status ('I' idle, 'T' in a transaction, 'E' in a failed one) of the answer's closing ReadyForQuery. */
function lastReadyForQuery(answer: Buffer): string | undefined {
  let at = 0;
  let status: string | undefined;
  while (at + 5 <= answer.length) {
    const type = answer[at]!;
    const len = answer.readInt32BE(at + 1);
    const end = at + 1 + len;
    if (len < 4 || end > answer.length) return undefined;
    status = type === READY_FOR_QUERY && len === 5 ? String.fromCharCode(answer[at + 5]!) : undefined;
    at = end;
  }
  return at === answer.length ? status : undefined;
}
