/**
 * QProxy's certificate authority: loads the CA files named by `forward.ca`, checks they can really
 * issue (a CA certificate, the matching key, inside its validity), and mints leaf certificates for
 * the hosts a forward-proxy client connects to. Every leaf shares one P-256 key made when the CA
 * is loaded (mitmproxy does the same with one key per process): it never leaves memory, and minting
 * is one signature instead of a key generation plus one.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, type KeyObject, type webcrypto } from 'node:crypto';
import { CaError, errorMessage } from '../core/errors.js';
import { BACKDATE_MS, CA_LIFETIME_MS, EC_P256, LEAF_LIFETIME_MS, altNameFor, commonNameFor, isMintableHost, normalizeHost, randomSerial } from './ca-profile.js';
import { subtle, x509 } from './x509.js';

type ImportParams = webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
type SignParams = webcrypto.Algorithm | webcrypto.EcdsaParams;

/** A minted leaf: its PEM chain (leaf, then the CA) and when it stops being valid. */
export interface LeafCertificate {
  chainPem: string;
  notAfter: number;
}

/** What `qproxy ca show` and the logs say about a CA. */
export interface CaSummary {
  subject: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER certificate, colon-separated hex (what browsers and openssl show). */
  fingerprint256: string;
}

/** Describes a PEM certificate; throws CaError when it does not parse. */
export function describeCertificate(pem: string | Buffer, label: string): CaSummary {
  const cert = parseCertificate(pem, label);
  return { subject: cert.subject.replace(/\n/g, ', '), notBefore: cert.validFrom, notAfter: cert.validTo, fingerprint256: cert.fingerprint256 };
}

function parseCertificate(pem: string | Buffer, label: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new CaError('QP_ERR_CA_INVALID', `${label} is not a PEM certificate (${errorMessage(err)}) — give the ca.pem that \`qproxy ca create\` wrote`, { cause: err });
  }
}

/** The WebCrypto algorithm that signs with this CA key, or a CaError for keys TLS clients would not accept. */
function signingAlgorithm(key: KeyObject, label: string): ImportParams {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { name: 'ECDSA', namedCurve: 'P-256' };
    if (curve === 'secp384r1') return { name: 'ECDSA', namedCurve: 'P-384' };
    throw new CaError('QP_ERR_CA_INVALID', `${label}: EC curve ${String(curve)} is not supported; use P-256 or P-384 (or \`qproxy ca create\`)`);
  }
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new CaError('QP_ERR_CA_INVALID', `${label}: ${String(key.asymmetricKeyType)} keys are not supported; use an EC (P-256, P-384) or RSA CA key`);
}

function signingParams(alg: ImportParams): SignParams {
  if (alg.name !== 'ECDSA') return alg;
  return { name: 'ECDSA', hash: (alg as webcrypto.EcKeyImportParams).namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' };
}

export class CertificateAuthority {
  /** The CA certificate (PEM), sent after each leaf so clients can build the chain. */
  readonly certPem: string;
  readonly summary: CaSummary;
  /** The key every leaf carries (PKCS#8 PEM), for the TLS contexts. */
  readonly leafKeyPem: string;
  private readonly notAfter: number;

  private constructor(
    certPem: string,
    summary: CaSummary,
    notAfter: number,
    private readonly issuer: x509.Name,
    private readonly signingKey: webcrypto.CryptoKey,
    private readonly signing: SignParams,
    private readonly aki: x509.AuthorityKeyIdentifierExtension,
    leafKey: { pem: string; spki: x509.PublicKey },
  ) {
    this.certPem = certPem;
    this.summary = summary;
    this.notAfter = notAfter;
    this.leafKeyPem = leafKey.pem;
    this.leafPublicKey = leafKey.spki;
  }

  private readonly leafPublicKey: x509.PublicKey;

  /**
   * Loads and checks a CA. `labels` name the files in errors (config field or path).
   *
   * @throws CaError `QP_ERR_CA_INVALID` when the certificate is not a CA, does not match the key,
   *   is outside its validity, or uses a key type leaf certificates cannot be signed with.
   */
  static async fromPem(certPem: string | Buffer, keyPem: string | Buffer, labels = { cert: 'the CA certificate', key: 'the CA key' }): Promise<CertificateAuthority> {
    const cert = parseCertificate(certPem, labels.cert);
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      throw new CaError('QP_ERR_CA_INVALID', `${labels.key} is not a PEM private key (${errorMessage(err)})`, { cause: err });
    }
    if (!cert.ca) throw new CaError('QP_ERR_CA_INVALID', `${labels.cert} is not a CA certificate (basicConstraints CA:TRUE is missing) — a server certificate cannot sign others; create a CA with \`qproxy ca create\``);
    if (!cert.checkPrivateKey(key)) throw new CaError('QP_ERR_CA_INVALID', `${labels.key} does not belong to ${labels.cert} — give the key file made with that certificate`);
    const notAfter = Date.parse(cert.validTo);
    const now = Date.now();
    if (now > notAfter) throw new CaError('QP_ERR_CA_INVALID', `${labels.cert} expired on ${cert.validTo} — create a new CA and trust it again`);
    if (now < Date.parse(cert.validFrom)) throw new CaError('QP_ERR_CA_INVALID', `${labels.cert} is not valid before ${cert.validFrom} — check the clock`);
    const alg = signingAlgorithm(key, labels.key);
    const signingKey = await subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
    const parsed = new x509.X509Certificate(cert.raw);
    const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(parsed.publicKey);
    const leaf = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const leafKey = {
      pem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      spki: new x509.PublicKey(leaf.publicKey.export({ type: 'spki', format: 'der' })),
    };
    const pem = cert.toString();
    return new CertificateAuthority(pem, describeCertificate(pem, labels.cert), notAfter, parsed.subjectName, signingKey, signingParams(alg), aki, leafKey);
  }

  /**
   * A leaf certificate for `host` (a DNS name or an IP literal), valid for a year or until the CA
   * expires, whichever is first.
   *
   * @throws CaError `QP_ERR_CA_HOST` for a name no certificate can carry.
   */
  async mint(host: string): Promise<LeafCertificate> {
    const name = normalizeHost(host);
    if (!isMintableHost(name)) throw new CaError('QP_ERR_CA_HOST', `no certificate can be made for ${JSON.stringify(host)}: not a host name or IP address`);
    const now = Date.now();
    const notAfter = Math.min(now + LEAF_LIFETIME_MS, this.notAfter);
    const cn = commonNameFor(name);
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: cn === null ? [] : [{ CN: [cn] }],
      issuer: this.issuer,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      signingAlgorithm: this.signing,
      publicKey: this.leafPublicKey,
      signingKey: this.signingKey,
      extensions: [
        new x509.SubjectAlternativeNameExtension([altNameFor(name)], cn === null),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        this.aki,
      ],
    });
    return { chainPem: `${leaf.toString('pem')}\n${this.certPem}`, notAfter };
  }
}

/** A new self-signed P-256 CA for `qproxy ca create`: certificate and PKCS#8 key, PEM. */
export async function createCa(commonName: string, organization: string): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await subtle.generateKey(EC_P256, true, ['sign', 'verify']));
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }, { O: [organization] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + CA_LIFETIME_MS),
    signingAlgorithm: EC_P256,
    keys,
    extensions: [
      // pathLen 0: this CA signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem') + '\n', keyPem };
}
