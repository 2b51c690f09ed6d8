/**
 * The server's connection limit, kept so that no client can hold it. Node's own `maxConnections`
 * refuses the newcomer once the limit is reached, so one client that keeps as many connections
 * open as the limit, each sending a request's headers a byte at a time and reopened as soon as
 * the server closes it (the header timeout cuts it after 10 s), held every slot for as long as it
 * liked: 260 such connections from one address made every other client's request fail.
 *
 * Here a connection arriving at the limit takes the slot of one that is waiting for its request
 * to arrive (a new connection whose request's headers are not all in, or a kept-alive one between
 * requests): such a connection holds a slot doing nothing, and its client loses at most a
 * reconnection. The one closed is, in this order of preference, one that has never sent a whole
 * request (a kept-alive connection has: closing it races with the next request its client sends
 * on it), one of the address holding the most connections, and of those the one that has waited
 * longest; a newcomer has waited least, so a client that sends its request at once gets through
 * however fast others reconnect. A connection whose
 * request has arrived (a search computing, an upload arriving, an answer being written) is never
 * taken: the request timeout and the write-stall cut (ResponsesInFlight) bound those. When every
 * slot has a request in it, the newcomer is closed at once, as before.
 *
 * Why not a cap per address: behind a reverse proxy every user has the proxy's address, and a cap
 * low enough to stop one client would stop all of them. Preferring the busiest address only
 * decides whom to close when someone must be closed, which a proxy alone in front of the server
 * never notices. An attacker who has his requests answered (sends them whole) is limited by the
 * cost of the requests themselves, not by this.
 *
 * A connection closed before its request arrived is told so as a header timeout is, 408 with a
 * JSON body (a browser retries a 408 on a connection it opened ahead of time); a kept-alive one
 * between requests is closed without a word, as at the end of its keep-alive timeout.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { answerAndClose } from './http-error.js';

interface Slot {
  address: string;
  /** Requests on it whose answer is not finished. */
  requests: number;
  /** Whether a request's headers ever arrived on it (a kept-alive connection between requests). */
  answeredBefore: boolean;
}

export class ConnectionSlots {
  /** Open connections, those waiting for a request in the order they began to wait. */
  private readonly slots = new Map<Socket, Slot>();
  private readonly perAddress = new Map<string, number>();
  /** Connections closed to make room for another, and newcomers refused with every slot busy. */
  evicted = 0;
  refused = 0;

  constructor(
    server: Server,
    private readonly maxConnections: number,
  ) {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (req, res) => {
      const slot = this.slots.get(req.socket);
      if (!slot) return;
      slot.requests++;
      slot.answeredBefore = true;
      res.once('close', () => {
        slot.requests--;
        // waiting again from now: to the end of the order
        if (slot.requests === 0 && this.slots.delete(req.socket)) this.slots.set(req.socket, slot);
      });
    });
  }

  get open(): number {
    return this.slots.size;
  }

  private admit(socket: Socket): void {
    if (this.slots.size >= this.maxConnections) {
      const waiting = this.connectionToClose();
      if (!waiting) {
        this.refused++;
        socket.destroy();
        return;
      }
      this.evicted++;
      const keptAlive = this.slots.get(waiting)?.answeredBefore === true;
      this.release(waiting);
      if (keptAlive) waiting.destroy();
      else answerAndClose(waiting, 408, 'REQUEST_TIMEOUT', 'the request had not arrived when the server, at its connection limit, needed this connection for another client');
    }
    const address = socket.remoteAddress ?? '';
    this.slots.set(socket, { address, requests: 0, answeredBefore: false });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this.release(socket));
  }

  /** Forgets a connection (closed, or being closed to make room): its slot is free at once. */
  private release(socket: Socket): void {
    const slot = this.slots.get(socket);
    if (!slot) return;
    this.slots.delete(socket);
    const left = (this.perAddress.get(slot.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(slot.address, left);
    else this.perAddress.delete(slot.address);
  }

  /**
   * The waiting connection to close: one that never sent a whole request before one that has
   * (a kept-alive connection has shown its client sends requests; closing it races with the next
   * one its client sends), then one of the address holding the most connections, then the one
   * that has waited longest.
   */
  private connectionToClose(): Socket | undefined {
    let chosen: Socket | undefined;
    let chosenRank = -1;
    // in the order they began to wait: the first found of a rank has waited longest
    for (const [socket, slot] of this.slots) {
      if (slot.requests > 0) continue;
      const rank = (slot.answeredBefore ? 0 : this.maxConnections + 1) + (this.perAddress.get(slot.address) ?? 0);
      if (rank > chosenRank) {
        chosen = socket;
        chosenRank = rank;
      }
    }
    return chosen;
  }
}
