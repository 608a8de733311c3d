import type { Credentials, RequestRewriter, WireMessage } from '../types.js';
import { authCommand, helloCommand } from './opening.js';
import { commandName } from './resp.js';

/** AUTH and HELLO later in a session get zone B's credentials too (when it has some). */
export class RedisRewriter implements RequestRewriter {
  constructor(private readonly creds: Credentials | null) {}

  request(m: WireMessage): Buffer {
    if (this.creds?.password === undefined) return m.data;
    const name = commandName(m.data);
    if (name === 'AUTH') return authCommand(this.creds);
    if (name === 'HELLO') return helloCommand(m.data, this.creds);
    return m.data;
  }

  answer(): void {}
}
