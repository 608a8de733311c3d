/**
 * Replay's own Redis opening: the recorded HELLO (protocol version and client name kept) with
 * zone B's credentials in place of zone A's, or AUTH with zone B's credentials when the recording
 * had none of its own or a plain AUTH. Without `playback.tcp.auth` the recorded credentials are
 * left out altogether.
 */
import type { Conversation } from '../conversation.js';
import { OpeningError, type Credentials, type OpeningChannel } from '../types.js';
import { decodeResp, commandArgs } from './resp.js';
import { showValue } from './describe.js';

/** One command in RESP. */
export function respCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function authArgs(creds: Credentials): string[] {
  return creds.user !== '' && creds.user !== 'default' ? [creds.user, creds.password ?? ''] : [creds.password ?? ''];
}

/** HELLO as recorded, its AUTH clause replaced by zone B's credentials (or dropped). */
export function helloCommand(recorded: Buffer, creds: Credentials | null): Buffer {
  const args = commandArgs(recorded);
  const out: Buffer[] = [Buffer.from('HELLO')];
  for (let i = 1; i < args.length; i++) {
    const word = args[i]!.toString('latin1').toUpperCase();
    if (word === 'AUTH') {
      i += 2;
      continue;
    }
    out.push(args[i]!);
    if (word === 'SETNAME' && i + 1 < args.length) out.push(args[++i]!);
  }
  if (creds?.password !== undefined) out.push(Buffer.from('AUTH'), ...[creds.user === '' ? 'default' : creds.user, creds.password].map((s) => Buffer.from(s)));
  return respCommand(out);
}

/** AUTH with zone B's credentials: replaces a recorded AUTH anywhere in the session. */
export function authCommand(creds: Credentials): Buffer {
  return respCommand(['AUTH', ...authArgs(creds)]);
}

/** Runs the opening on `ch`. Throws OpeningError when zone B refuses. */
export async function openRedis(ch: OpeningChannel, recorded: Conversation, creds: Credentials | null): Promise<void> {
  const hello = recorded.opening.client.find((m) => commandArgs(m.data)[0]?.toString('latin1').toUpperCase() === 'HELLO');
  const commands: Buffer[] = [];
  if (hello !== undefined) commands.push(helloCommand(hello.data, creds));
  else if (creds?.password !== undefined) commands.push(authCommand(creds));
  for (const c of commands) {
    await ch.write(c);
    const reply = await ch.next();
    if (reply === null) throw new OpeningError('QP_ERR_REPLAY_AUTH', 'zone B closed the connection during the Redis opening');
    const v = decodeResp(reply.data);
    if (v.t === 'error') throw new OpeningError('QP_ERR_REPLAY_AUTH', `zone B refused the Redis opening: ${showValue(v)}`);
  }
}
