import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { GateRefusal } from '../core/documents.js';
import type { FdGuard } from './fd-guard.js';

/**
 * Admission control for a listener that anyone on the network can reach: a bounded number of
 * connections in all and per client address, none while the process is short of file handles,
 * and a deadline by which a connection must have proved who it is (`trust()`), or it is closed.
 * Refusals happen right at accept, before TLS or HTTP/2 spend anything on the connection; admitted
 * sockets are handed to the protocol server (`deliver`).
 *
 * @module
 */

/** Why a connection was refused or closed; metric label values, and keys of the status documents. */
export type { GateRefusal };

export const GATE_REFUSALS: readonly GateRefusal[] = ['max_connections', 'per_address', 'fd_limit', 'auth_timeout'];

export interface GateOptions {
  /** Most connections open at once; 0 = no limit. */
  maxConnections: number;
  /** Most connections open at once from one client address; 0 = no limit. */
  maxPerAddress: number;
  /** A connection not trusted within this long is closed; 0 = no deadline. */
  trustWithinMs: number;
  /** Refuses while the process is short of file handles; null = never. */
  fds: FdGuard | null;
  /** Every refusal (and every connection closed at the deadline). */
  onRefused(reason: GateRefusal, address: string): void;
  /** Receives each admitted socket. */
  deliver(socket: Socket): void;
}

interface Admission {
  socket: Socket;
  address: string;
  deadline: NodeJS.Timeout | null;
}

/** One listening socket with admission control in front of a protocol server. */
export class ConnectionGate {
  readonly server: Server;
  private readonly perAddress = new Map<string, number>();
  /** By "remoteAddress|remotePort", the only handle a TLS or HTTP/2 layer above shares with the raw socket. */
  private readonly admissions = new Map<string, Admission>();
  private untrusted = 0;
  private accepted = 0;

  constructor(private readonly o: GateOptions) {
    this.server = createServer();
    if (o.maxConnections > 0) {
      // Node closes these itself, before any JS socket exists: the cheapest refusal there is.
      this.server.maxConnections = o.maxConnections;
      this.server.on('drop', (d?: { remoteAddress?: string }) => {
        this.accepted++;
        o.onRefused('max_connections', clientAddress(d?.remoteAddress));
      });
    }
    this.server.on('connection', (socket: Socket) => this.admit(socket));
  }

  /** Connections open now, those of them not trusted yet, and all accepted since start (refused ones included). */
  get counts(): { open: number; untrusted: number; accepted: number } {
    return { open: this.admissions.size, untrusted: this.untrusted, accepted: this.accepted };
  }

  /**
   * The connection from `remoteAddress:remotePort` proved who it is: its deadline no longer
   * applies. Returns false when no such connection is open (already closed).
   */
  trust(remoteAddress: string | undefined, remotePort: number | undefined): boolean {
    const admission = this.admissions.get(`${remoteAddress}|${remotePort}`);
    if (admission === undefined) return false;
    if (admission.deadline !== null) {
      clearTimeout(admission.deadline);
      admission.deadline = null;
      this.untrusted--;
    }
    return true;
  }

  /** Cuts every admitted connection (shutdown: `server.close()` waits for them all). */
  destroyAll(): void {
    for (const a of this.admissions.values()) a.socket.destroy();
  }

  private admit(socket: Socket): void {
    this.accepted++;
    const address = clientAddress(socket.remoteAddress);
    if (this.o.fds?.overLimit() === true) return this.refuse(socket, 'fd_limit', address);
    const held = this.perAddress.get(address) ?? 0;
    if (this.o.maxPerAddress > 0 && held >= this.o.maxPerAddress) return this.refuse(socket, 'per_address', address);
    this.perAddress.set(address, held + 1);
    this.o.fds?.admitted();
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    const admission: Admission = { socket, address, deadline: null };
    if (this.o.trustWithinMs > 0) {
      this.untrusted++;
      admission.deadline = setTimeout(() => {
        this.o.onRefused('auth_timeout', address);
        socket.destroy();
      }, this.o.trustWithinMs);
    }
    this.admissions.set(key, admission);
    socket.once('close', () => {
      this.admissions.delete(key);
      if (admission.deadline !== null) {
        clearTimeout(admission.deadline);
        this.untrusted--;
      }
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
    this.o.deliver(socket);
  }

  private refuse(socket: Socket, reason: GateRefusal, address: string): void {
    this.o.onRefused(reason, address);
    socket.on('error', () => {});
    socket.destroy();
  }
}

/** The client's IP as one key per machine ("::ffff:10.0.0.1" and "10.0.0.1" are the same client). */
function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return '?';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}
