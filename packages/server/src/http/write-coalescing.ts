import type { Socket } from 'node:net';

let held = new Set<Socket>();
let scheduled = false;

/**
 * Holds the socket's writes until the end of this turn of the event loop (setImmediate), so that
 * what several sends write in one turn (a run's batch of events to a subscriber, and the message
 * that completes its subscription) leaves in one system call instead of one each. Nothing waits
 * longer than the rest of the turn; a socket that is ended meanwhile is flushed by end() itself.
 */
export function holdWritesThisTurn(socket: Socket): void {
  if (held.has(socket) || socket.destroyed) return;
  socket.cork();
  held.add(socket);
  if (!scheduled) {
    scheduled = true;
    setImmediate(releaseHeld);
  }
}

function releaseHeld(): void {
  // A write while releasing (a callback that sends again) holds its socket for the next turn.
  const batch = held;
  held = new Set();
  scheduled = false;
  for (const socket of batch) socket.uncork();
}
