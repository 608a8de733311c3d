/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: no channel
 * binding ("n,,"), an empty user name in the client-first message (the server takes the
 * StartupMessage's), the password as given (ASCII passwords are what SASLprep leaves alone).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export class ScramError extends Error {}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

export class ScramClient {
  readonly #nonce = randomBytes(18).toString('base64');
  #serverSignature: Buffer | null = null;

  constructor(private readonly password: string) {}

  /** The client-first message (sent in SASLInitialResponse). */
  first(): string {
    return `n,,${this.#bare()}`;
  }

  #bare(): string {
    return `n=*,r=${this.#nonce}`;
  }

  /** The client-final message for the server-first message (sent in SASLResponse). */
  final(serverFirst: string): string {
    const a = attributes(serverFirst);
    const nonce = a.get('r');
    const salt = a.get('s');
    const iterations = Number(a.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) throw new ScramError('the server\'s SCRAM nonce does not extend the client\'s');
    if (salt === undefined || !Number.isInteger(iterations) || iterations < 1) throw new ScramError('the server\'s SCRAM message has no salt or iteration count');
    const salted = pbkdf2Sync(this.password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#bare()},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final message: the server proves it knew the password's verifier. */
  verify(serverFinal: string): void {
    const a = attributes(serverFinal);
    const error = a.get('e');
    if (error !== undefined) throw new ScramError(`the server ended SCRAM with "${error}"`);
    const v = Buffer.from(a.get('v') ?? '', 'base64');
    if (this.#serverSignature === null || v.length !== this.#serverSignature.length || !timingSafeEqual(v, this.#serverSignature)) {
      throw new ScramError('the server\'s SCRAM signature is wrong: it does not know this password');
    }
  }
}
