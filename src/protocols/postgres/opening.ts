/**
 * Replay's own PostgreSQL opening: the recorded StartupMessage's parameters with zone B's user and
 * database, then whatever authentication zone B asks for (SCRAM-SHA-256, md5, cleartext), up to
 * ReadyForQuery. The recorded authentication cannot be sent again: SCRAM's proof covers the
 * server's nonce, md5's the server's salt.
 */
import { createHash } from 'node:crypto';
import { serialize } from 'pg-protocol';
import type { Conversation } from '../conversation.js';
import { OpeningError, type Credentials, type OpeningChannel } from '../types.js';
import { decodeServer, startupParams } from './decode.js';
import { PROTOCOL_3 } from './messages.js';
import { ScramClient, ScramError } from './scram.js';

/** The StartupMessage the replay sends: the recorded parameters, zone B's user and database. */
export function startupMessage(recorded: Conversation, creds: Credentials | null): Buffer {
  const startup = recorded.opening.client.find((m) => m.type === 'StartupMessage');
  const params = new Map(startup === undefined ? [] : startupParams(startup.data));
  if (creds !== null) params.set('user', creds.user);
  if (creds?.database !== undefined) params.set('database', creds.database);
  if (!params.has('user')) throw new OpeningError('QP_ERR_REPLAY_AUTH', 'the recorded session has no StartupMessage user and playback.tcp.auth sets none');
  const body: Buffer[] = [];
  for (const [k, v] of params) body.push(Buffer.from(`${k}\0${v}\0`, 'utf8'));
  body.push(Buffer.from([0]));
  const head = Buffer.alloc(8);
  const rest = Buffer.concat(body);
  head.writeInt32BE(8 + rest.length, 0);
  head.writeInt32BE(PROTOCOL_3, 4);
  return Buffer.concat([head, rest]);
}

function needPassword(creds: Credentials | null, method: string): string {
  if (creds?.password === undefined) {
    throw new OpeningError('QP_ERR_REPLAY_AUTH', `zone B asks for a password (${method}): set playback.tcp.auth.user and password (or QPROXY_TCP_AUTH_PASSWORD)`);
  }
  return creds.password;
}

/** Runs the opening on `ch`; resolves at ReadyForQuery. Throws OpeningError. */
export async function openPostgres(ch: OpeningChannel, recorded: Conversation, creds: Credentials | null): Promise<void> {
  const startup = startupMessage(recorded, creds);
  const user = new Map(startupParams(startup)).get('user')!;
  await ch.write(startup);
  let scram: ScramClient | null = null;
  for (;;) {
    const m = await ch.next();
    if (m === null) throw new OpeningError('QP_ERR_REPLAY_AUTH', 'zone B closed the connection during the PostgreSQL opening');
    if (m.type === 'ReadyForQuery') return;
    if (m.type === 'ErrorResponse') {
      const f = decodeServer(m.data, m.type);
      throw new OpeningError('QP_ERR_REPLAY_AUTH', `zone B refused the PostgreSQL session: ${f.type === 'ErrorResponse' ? `${f.code} ${f.message}` : 'ErrorResponse'}`);
    }
    if (m.type !== 'Authentication') continue;
    const a = decodeServer(m.data, m.type);
    if (a.type !== 'Authentication') continue;
    try {
      scram = await authStep(ch, a, user, creds, scram);
    } catch (err) {
      if (err instanceof ScramError) throw new OpeningError('QP_ERR_REPLAY_AUTH', `SCRAM-SHA-256 with zone B failed: ${err.message}`);
      throw err;
    }
  }
}

async function authStep(ch: OpeningChannel, a: { code: number; name: string; mechanisms: string[]; data: string; salt: Buffer | null }, user: string, creds: Credentials | null, scram: ScramClient | null): Promise<ScramClient | null> {
  switch (a.code) {
    case 0:
      return scram;
    case 3:
      await ch.write(serialize.password(needPassword(creds, 'cleartext')));
      return scram;
    case 5: {
      const password = needPassword(creds, 'md5');
      const inner = createHash('md5').update(password + user).digest('hex');
      await ch.write(serialize.password(`md5${createHash('md5').update(inner).update(a.salt!).digest('hex')}`));
      return scram;
    }
    case 10: {
      if (!a.mechanisms.includes('SCRAM-SHA-256')) {
        throw new OpeningError('QP_ERR_REPLAY_AUTH', `zone B offers only ${a.mechanisms.join(', ')} (channel binding needs TLS, which protocol-aware replay does not speak)`);
      }
      const client = new ScramClient(needPassword(creds, 'SCRAM-SHA-256'));
      await ch.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', client.first()));
      return client;
    }
    case 11:
      if (scram === null) throw new OpeningError('QP_ERR_REPLAY_AUTH', 'zone B sent SASLContinue without SASL');
      await ch.write(serialize.sendSCRAMClientFinalMessage(scram.final(a.data)));
      return scram;
    case 12:
      if (scram === null) throw new OpeningError('QP_ERR_REPLAY_AUTH', 'zone B sent SASLFinal without SASL');
      scram.verify(a.data);
      return scram;
    default:
      throw new OpeningError('QP_ERR_REPLAY_AUTH', `zone B asks for ${a.name}, which replay does not support (SCRAM-SHA-256, md5, cleartext and trust are)`);
  }
}
