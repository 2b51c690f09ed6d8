/**
 * The server's connection limit, kept so that no client can hold it. Node's own `maxConnections`
 * refuses the newcomer once the limit is reached, so one client that keeps as many connections
 * open as the limit, each sending a request's headers a byte at a time and reopened as soon as
 * the server closes it (the header timeout cuts it after 10 s), held every slot for as long as it
 * liked: 260 such connections from one address made every other client's request fail.
 *
 * Here a connection arriving at the limit takes the slot of one whose request has not arrived:
 * a new connection whose request's headers are not all in, or one whose request's body is still
 * arriving with nothing answered yet (what a client sending a body a byte at a time holds), and
 * only then a kept-alive one between requests (closing it races with the next request its client
 * sends on it). Such a connection holds a slot without a request the server can work on, and its
 * client loses at most a reconnection (and a resend). The one closed belongs to the address
 * holding the most connections, and of its connections it is the one that has waited longest; a
 * newcomer has waited least, so a client that sends its request at once gets through however
 * fast others reconnect. A connection whose request has arrived (a search computing, an answer
 * being written) is never taken: the write-stall cut (ResponsesInFlight) bounds those. When every
 * slot has such a request in it, the newcomer is closed at once, as before.
 *
 * Why not a cap per address: behind a reverse proxy every user has the proxy's address, and a cap
 * low enough to stop one client would stop all of them. Preferring the busiest address only
 * decides whom to close when someone must be closed, which a proxy alone in front of the server
 * never notices. An attacker who has his requests answered (sends them whole) is limited by the
 * cost of the requests themselves, not by this.
 *
 * A connection closed before its request arrived is told so as a header timeout is, 408 with a
 * JSON body (a browser retries a 408 on a connection it opened ahead of time); a kept-alive one
 * between requests is closed without a word, as at the end of its keep-alive timeout. None of
 * them is logged, as node logs none of the connections its header timeout closes: under an
 * attack that would be thousands of lines a second.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { answerAndClose } from './http-error.js';
import { markCutShort } from './request-log.js';

interface Slot {
  address: string;
  /** Requests on it whose answer is not finished. */
  requests: number;
  /** Whether a request's headers ever arrived on it (a kept-alive connection between requests). */
  answeredBefore: boolean;
  /** Its latest request, to tell whether its body is still arriving. */
  latest?: { req: IncomingMessage; res: ServerResponse };
}

/** What a connection that could make room is doing. */
const enum Waiting {
  /** Its request has not all arrived: headers not all in, or (nothing answered yet) a body still arriving. */
  ForRequest = 1,
  /** Kept alive between requests: closing it races with the next request its client sends on it. */
  KeptAlive = 2,
}

export class ConnectionSlots {
  /** Open connections, those waiting for a request in the order they began to wait. */
  private readonly slots = new Map<Socket, Slot>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    server: Server,
    private readonly maxConnections: number,
  ) {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const slot = this.slots.get(req.socket);
      if (!slot) return;
      slot.requests++;
      slot.answeredBefore = true;
      slot.latest = { req, res };
      res.once('close', () => {
        slot.requests--;
        // waiting again from now: to the end of the order
        if (slot.requests === 0 && this.slots.delete(req.socket)) this.slots.set(req.socket, slot);
      });
    });
  }

  private admit(socket: Socket): void {
    if (this.slots.size >= this.maxConnections) {
      const chosen = this.connectionToClose();
      if (!chosen) {
        socket.destroy();
        return;
      }
      const [victim, slot] = chosen;
      this.release(victim);
      if (slot.requests === 0 && slot.answeredBefore) victim.destroy();
      else {
        // its handler meets a request aborted: no news for the request log (an attack would flood it)
        if (slot.requests > 0 && slot.latest) markCutShort(slot.latest.res);
        const what = slot.requests > 0 ? "the request's body had not all arrived" : 'the request had not arrived';
        answerAndClose(victim, 408, 'REQUEST_TIMEOUT', `${what} when the server, at its connection limit, needed this connection for another client`);
      }
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

  /** Whether `slot` may be closed to make room; undefined while it has a request whose body is in or whose answer has begun. */
  private waitingOf(slot: Slot): Waiting | undefined {
    if (slot.requests === 0) return slot.answeredBefore ? Waiting.KeptAlive : Waiting.ForRequest;
    const latest = slot.latest;
    if (slot.requests === 1 && latest && !latest.req.complete && !latest.res.headersSent) return Waiting.ForRequest;
    return undefined;
  }

  /**
   * The connection to close: of the address holding the most connections, one whose request has
   * not arrived before one kept alive between requests, and the one that has waited longest.
   */
  private connectionToClose(): [Socket, Slot] | undefined {
    let chosen: [Socket, Slot] | undefined;
    let chosenRank = -1;
    // in the order they began to wait: the first found of a rank has waited longest
    for (const [socket, slot] of this.slots) {
      const waiting = this.waitingOf(slot);
      if (waiting === undefined) continue;
      const rank = 2 * (this.perAddress.get(slot.address) ?? 0) + (waiting === Waiting.ForRequest ? 1 : 0);
      if (rank > chosenRank) {
        chosen = [socket, slot];
        chosenRank = rank;
      }
    }
    return chosen;
  }
}
