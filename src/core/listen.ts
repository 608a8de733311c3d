import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { ListenError } from './errors.js';

/**
 * Binds `server` to host:port (port 0 = ephemeral) and resolves with the bound address. A failure
 * (port in use, address unavailable, bad port) rejects with a ListenError (QP_ERR_LISTEN) whose
 * message `explain` writes from the cause: each server names itself and the config key to change.
 * The server's own `'error'` listener for later faults is the caller's to add.
 */
export async function listen(server: Server, host: string, port: number, explain: (err: NodeJS.ErrnoException) => string): Promise<AddressInfo> {
  try {
    server.listen({ host, port });
    await once(server, 'listening');
  } catch (err) {
    throw new ListenError(explain(err as NodeJS.ErrnoException), { cause: err });
  }
  return server.address() as AddressInfo;
}
