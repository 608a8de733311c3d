/**
 * The X.509 library, set up once. `@peculiar/x509` (certificates over WebCrypto, ECDSA and RSA;
 * node-forge has no ECDSA and hand-written ASN.1 is not an option) resolves its encoders through
 * tsyringe, which needs the Reflect metadata polyfill loaded before it; ES modules evaluate in
 * import order, so importing it here, first, is enough for every user of this module.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The library's types name the DOM's Crypto, which this project's lib settings leave out.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

export const subtle: webcrypto.SubtleCrypto = webcrypto.subtle;
