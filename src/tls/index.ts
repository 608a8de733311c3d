/**
 * QProxy's certificate authority: CA files (`qproxy ca create`, `qproxy ca show`) and the leaf
 * certificates the forward proxy presents when it intercepts CONNECT.
 *
 * @module
 */
export { CertificateAuthority, createCa, describeCertificate } from './authority.js';
export type { CaSummary, LeafCertificate } from './authority.js';
export { LeafContexts, caMinter } from './leaf-cache.js';
export type { LeafCacheObserver, LeafMinter } from './leaf-cache.js';
export { isMintableHost, normalizeHost } from './ca-profile.js';
