// TLS: the files a peer or a client is given (--ca, --cert, --key, and a
// peer's --client-ca; a client's PAXOS_CA, PAXOS_CERT and PAXOS_KEY), read
// and checked here, so a bad one is a usage error naming the flag and the
// path before anything starts. What is done with them (the listener, the
// links, the clients' connections) is src/transport/tls.ts.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from './errors.js';

/** A peer's TLS: its own certificate, and the CA that signed every peer's. */
export interface PeerTls {
  /** --ca: PEM, the CA (or CAs) whose certificates peers must present; clients verify peers with it too. */
  readonly ca: Buffer;
  /** --cert and --key: PEM, this peer's certificate (for its listener and its links) and private key. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** --client-ca: PEM; when given, every client must present a certificate signed by it. Null: optional. */
  readonly clientCa: Buffer | null;
}

/** A client's TLS: the CA to verify the replicas with (else the system's), and an optional certificate. */
export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** The environment variables a client reads when its flags do not say (as PAXOS_SECRET). */
export const TLS_ENV = { ca: 'PAXOS_CA', cert: 'PAXOS_CERT', key: 'PAXOS_KEY' } as const;

/** The flags' values, as parseArgs gives them. */
export interface TlsFlagValues {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly 'client-ca'?: string | undefined;
}

function readPem(source: string, file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${source} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!bytes.includes('-----BEGIN '))
    throw new ConfigError(`${source} ${file}: not a PEM file (no -----BEGIN line); give the PEM form`);
  return bytes;
}

/** The certificates in a PEM bundle, each checked; a ConfigError names the source if there is none or one is bad. */
export function pemCertificates(source: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${source}: holds no certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ConfigError(`${source}: a certificate in it cannot be read (${(err as Error).message})`);
    }
  });
}

/** Checks that the certificate and key load and belong together (as the TLS library would, later). */
function checkPair(certSource: string, keySource: string, cert: Buffer, key: Buffer, ca?: Buffer): void {
  pemCertificates(certSource, cert);
  try {
    tls.createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (err) {
    const why = (err as Error).message;
    if (/key values mismatch/i.test(why))
      throw new ConfigError(`${certSource} and ${keySource}: the key is not this certificate's (${why})`);
    throw new ConfigError(`${certSource} and ${keySource}: cannot be used for TLS (${why})`);
  }
}

/**
 * A peer's TLS from --ca, --cert, --key and --client-ca: null when none is
 * given (plain NDJSON); otherwise all of --ca, --cert and --key are needed,
 * and a ConfigError names what is missing or bad.
 */
export function loadPeerTls(values: TlsFlagValues): PeerTls | null {
  const { ca, cert, key } = values;
  const clientCa = values['client-ca'];
  if (ca === undefined && cert === undefined && key === undefined) {
    if (clientCa !== undefined)
      throw new ConfigError('--client-ca needs TLS on: pass --ca FILE, --cert FILE and --key FILE too');
    return null;
  }
  if (cert !== undefined && key === undefined)
    throw new ConfigError(`--cert ${cert} needs --key FILE (the certificate's private key)`);
  if (key !== undefined && cert === undefined)
    throw new ConfigError(`--key ${key} needs --cert FILE (its certificate)`);
  if (cert === undefined || key === undefined)
    throw new ConfigError(
      `--ca ${ca} needs --cert FILE and --key FILE: a peer proves who it is to the others with its own certificate`,
    );
  if (ca === undefined)
    throw new ConfigError(
      `--cert ${cert} needs --ca FILE: the CA that signed every peer's certificate, to check the other peers with`,
    );
  const caPem = readPem('--ca', ca);
  pemCertificates(`--ca ${ca}`, caPem);
  const certPem = readPem('--cert', cert);
  const keyPem = readPem('--key', key);
  checkPair(`--cert ${cert}`, `--key ${key}`, certPem, keyPem, caPem);
  let clientCaPem: Buffer | null = null;
  if (clientCa !== undefined) {
    clientCaPem = readPem('--client-ca', clientCa);
    pemCertificates(`--client-ca ${clientCa}`, clientCaPem);
  }
  return { ca: caPem, cert: certPem, key: keyPem, clientCa: clientCaPem };
}

/**
 * A client's TLS from --ca, --cert and --key, each else from PAXOS_CA,
 * PAXOS_CERT and PAXOS_KEY (file paths): null when none is given (plain
 * NDJSON). --cert needs --key and back; --ca alone is TLS without a
 * client certificate; --cert and --key without --ca trust the system's CAs.
 */
export function loadClientTls(values: TlsFlagValues, env: NodeJS.ProcessEnv): ClientTls | null {
  const pick = (flag: 'ca' | 'cert' | 'key'): { source: string; file: string } | undefined => {
    const v = values[flag];
    if (v !== undefined) return { source: `--${flag}`, file: v };
    const e = env[TLS_ENV[flag]];
    return e === undefined || e.trim() === '' ? undefined : { source: TLS_ENV[flag], file: e };
  };
  const ca = pick('ca');
  const cert = pick('cert');
  const key = pick('key');
  if (ca === undefined && cert === undefined && key === undefined) return null;
  if (cert !== undefined && key === undefined)
    throw new ConfigError(`${cert.source} ${cert.file} needs --key FILE (or ${TLS_ENV.key}): its private key`);
  if (key !== undefined && cert === undefined)
    throw new ConfigError(`${key.source} ${key.file} needs --cert FILE (or ${TLS_ENV.cert}): its certificate`);
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  if (ca !== undefined) {
    out.ca = readPem(ca.source, ca.file);
    pemCertificates(`${ca.source} ${ca.file}`, out.ca);
  }
  if (cert !== undefined && key !== undefined) {
    out.cert = readPem(cert.source, cert.file);
    out.key = readPem(key.source, key.file);
    checkPair(`${cert.source} ${cert.file}`, `${key.source} ${key.file}`, out.cert, out.key);
  }
  return out;
}
