/**
 * Replay's own MySQL/MariaDB opening: read zone B's greeting, answer it with the recorded
 * client's capabilities (less SSL, compression and connection attributes) and zone B's
 * credentials, and follow authentication switches until OK. mysql_native_password and
 * caching_sha2_password (fast path, and the full path over RSA with the server's public key)
 * are spoken; the scramble of each is the server's, so the recorded answer cannot be reused.
 */
import { constants, createHash, publicEncrypt } from 'node:crypto';
import type { Conversation } from '../conversation.js';
import { OpeningError, type Credentials, type OpeningChannel, type WireMessage } from '../types.js';
import { decodeErr, decodeGreeting, decodeHandshakeResponse, type HandshakeResponse } from './decode.js';
import {
  CLIENT_COMPRESS,
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  CLIENT_ZSTD_COMPRESSION,
  packets,
  payloadOf,
  sequenceOf,
} from './packets.js';

function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

/** mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
export function nativePassword(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const p1 = sha1(Buffer.from(password, 'utf8'));
  return xor(p1, sha1(scramble.subarray(0, 20), sha1(p1)));
}

/** caching_sha2_password: SHA256(password) XOR SHA256(SHA256(SHA256(password)) + scramble). */
export function cachingSha2Password(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const p1 = sha256(Buffer.from(password, 'utf8'));
  return xor(p1, sha256(sha256(p1), scramble.subarray(0, 20)));
}

const SUPPORTED = new Set(['mysql_native_password', 'caching_sha2_password']);

function scrambleFor(plugin: string, password: string, scramble: Buffer): Buffer {
  return plugin === 'caching_sha2_password' ? cachingSha2Password(password, scramble) : nativePassword(password, scramble);
}

function cstring(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

function lenenc(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  const b = Buffer.alloc(3);
  b[0] = 0xfc;
  b.writeUInt16LE(n, 1);
  return b;
}

/** The handshake response the replay sends. */
export function handshakeResponse(recorded: HandshakeResponse, greeting: { caps: number; mariadbCaps: number }, creds: Credentials | null, plugin: string, auth: Buffer): Buffer {
  const database = creds?.database ?? recorded.database;
  let caps = (recorded.caps & greeting.caps & ~(CLIENT_SSL | CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION | CLIENT_CONNECT_ATTRS | CLIENT_CONNECT_WITH_DB)) >>> 0;
  caps |= CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | (greeting.caps & CLIENT_PLUGIN_AUTH);
  if (database !== null && database !== '') caps |= CLIENT_CONNECT_WITH_DB;
  const head = Buffer.alloc(32);
  head.writeUInt32LE(caps >>> 0, 0);
  head.writeUInt32LE(recorded.maxPacket, 4);
  head[8] = recorded.charset;
  // MariaDB clients (CLIENT_MYSQL clear) put their extended capabilities in the last 4 filler bytes.
  if ((caps & CLIENT_MYSQL) === 0) head.writeUInt32LE((recorded.mariadbCaps & greeting.mariadbCaps) >>> 0, 28);
  const parts = [head, cstring(creds?.user ?? recorded.user)];
  parts.push((caps & CLIENT_PLUGIN_AUTH_LENENC_DATA) !== 0 ? Buffer.concat([lenenc(auth.length), auth]) : Buffer.concat([Buffer.from([auth.length]), auth]));
  if ((caps & CLIENT_CONNECT_WITH_DB) !== 0) parts.push(cstring(database!));
  if ((caps & CLIENT_PLUGIN_AUTH) !== 0) parts.push(cstring(plugin));
  return Buffer.concat(parts);
}

async function next(ch: OpeningChannel): Promise<WireMessage> {
  const m = await ch.next();
  if (m === null) throw new OpeningError('QP_ERR_REPLAY_AUTH', 'zone B closed the connection during the MySQL opening');
  return m;
}

/** Runs the opening on `ch`; resolves at the server's OK. Throws OpeningError. */
export async function openMysql(ch: OpeningChannel, recorded: Conversation, creds: Credentials | null): Promise<void> {
  const response = recorded.opening.client.find((m) => m.type === 'HandshakeResponse');
  if (response === undefined) throw new OpeningError('QP_ERR_REPLAY_PROTOCOL', 'the recorded session has no handshake response');
  const rec = decodeHandshakeResponse(payloadOf(response.data));
  const first = await next(ch);
  if (first.type === 'ERR') throw refused(first);
  if (first.type !== 'Greeting') throw new OpeningError('QP_ERR_REPLAY_PROTOCOL', `zone B did not greet like MySQL (${first.type})`);
  const greeting = decodeGreeting(payloadOf(first.data));
  const password = creds?.password ?? '';
  let plugin = SUPPORTED.has(greeting.plugin) ? greeting.plugin : 'mysql_native_password';
  let scramble = greeting.scramble;
  const payload = handshakeResponse(rec, greeting, creds, plugin, scrambleFor(plugin, password, scramble));
  await ch.write(packets(payload, sequenceOf(first.data) + 1));
  for (;;) {
    const m = await next(ch);
    const p = payloadOf(m.data);
    const seq = sequenceOf(m.data) + 1;
    if (m.type === 'OK') return;
    if (m.type === 'ERR') throw refused(m);
    if (m.type === 'AuthSwitchRequest') {
      const end = p.indexOf(0, 1);
      plugin = p.toString('utf8', 1, end);
      if (!SUPPORTED.has(plugin)) throw new OpeningError('QP_ERR_REPLAY_AUTH', `zone B asks for the ${plugin} authentication plugin; replay speaks mysql_native_password and caching_sha2_password`);
      scramble = p.subarray(end + 1, p[p.length - 1] === 0 ? p.length - 1 : p.length);
      await ch.write(packets(scrambleFor(plugin, password, scramble), seq));
    } else if (m.type === 'AuthMoreData') {
      await moreData(ch, p, seq, password, scramble);
    }
  }
}

/** caching_sha2_password's second round: 3 = the fast path worked; 4 = send the password under RSA. */
async function moreData(ch: OpeningChannel, p: Buffer, seq: number, password: string, scramble: Buffer): Promise<void> {
  if (p[1] === 3) return;
  if (p[1] === 4) {
    // Without TLS the password goes encrypted with the server's public key, which we ask for.
    await ch.write(packets(Buffer.from([2]), seq));
    return;
  }
  const pem = p.subarray(1).toString('latin1');
  if (!pem.includes('PUBLIC KEY')) throw new OpeningError('QP_ERR_REPLAY_AUTH', 'zone B sent authentication data replay does not understand');
  const secret = xor(Buffer.from(`${password}\0`, 'utf8'), scramble.subarray(0, 20));
  const encrypted = publicEncrypt({ key: pem, padding: constants.RSA_PKCS1_OAEP_PADDING }, secret);
  await ch.write(packets(encrypted, seq));
}

function refused(m: WireMessage): OpeningError {
  const e = decodeErr(payloadOf(m.data));
  return new OpeningError('QP_ERR_REPLAY_AUTH', `zone B refused the MySQL session: ${e.code} ${e.message}`);
}
