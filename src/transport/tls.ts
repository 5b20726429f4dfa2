// TLS on the wire, when a peer is given --ca, --cert and --key (the files
// are read and checked in src/config/tls-files.ts):
//
// - The listener takes TLS only. It looks at a connection's first byte: a
//   TLS handshake (0x16) goes on to TLS; anything else, or nothing for
//   SNIFF_MS (a client waiting for a challenge), gets one plaintext line,
//   {"type":"refused","reason":"tls_required",...}, and is closed, so a
//   plaintext client can say what to do; the listener logs a line naming
//   the address.
// - Every peer presents its certificate, and must present one signed by
//   --ca whose names hold its hostsfile name (mutual TLS). Clients may
//   present one; with --client-ca they must, signed by it. The TLS library
//   checks the chain (requestCert, rejectUnauthorized off, so the refusal
//   can say why); this file decides who may be what.
// - A connector (a peer's link, a client) verifies the far end's
//   certificate with its CA, and its name: the name it dialled, or, when it
//   dialled an address, the hostsfile or endpoint name of that address
//   (serverName below).
//
// On a TLS connection the lines carry no MAC under the shared secret
// (message-mac.ts): TLS's own record MACs already protect each connection
// against altered, replayed, reordered or spliced bytes. The secret's
// handshake still runs on it, so TLS + secret checks both.

import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { pemCertificates, type ClientTls, type PeerTls } from '../config/tls-files.js';

/** Where to connect (link.ts's Endpoint; not imported from there, which imports this). */
interface Where {
  readonly host: string;
  readonly port: number;
}

/** How long a listener with TLS waits for a connection's first byte before telling it, in plaintext, to use TLS. */
export const SNIFF_MS = 1000;
/** A TLS handshake that takes longer than this is dropped. */
const HANDSHAKE_MS = 10_000;

/** The line a listener sends before it closes a connection it refuses for TLS reasons. */
export interface RefusedLine {
  readonly type: 'refused';
  /** tls_required: it spoke plaintext to a TLS listener; certificate: its certificate was missing or not trusted. */
  readonly reason: 'tls_required' | 'certificate';
  readonly why: string;
}

export function refusedLine(reason: RefusedLine['reason'], why: string): string {
  return `${JSON.stringify({ type: 'refused', reason, why } satisfies RefusedLine)}\n`;
}

/** What a client says when a listener refused it (a `refused` line), with what to do. */
export function refusedWhy(o: Record<string, unknown>, program = false): string {
  const why = typeof o['why'] === 'string' ? o['why'] : 'no reason given';
  if (o['reason'] === 'tls_required')
    return (
      `it speaks TLS, and this client spoke plaintext: pass --ca FILE or set PAXOS_CA` +
      `${program ? ' (in a program: connect({ tls: { ca } }))' : ''}, the CA that signed its certificate, and ` +
      `--cert and --key if it requires client certificates`
    );
  return `it refused us over TLS: ${why}`;
}

// ---- the connecting side --------------------------------------------------

/** A connector's TLS: a client's, or a peer's own (its certificate is then presented too). */
export type DialTls = ClientTls | PeerTls;

/**
 * The name the far end's certificate must hold: the host dialled, if it is a
 * name; else (an address) `name`, the hostsfile or endpoint name for it, if
 * that is a DNS name; else the address (an IP entry in the certificate).
 */
export function serverName(name: string | undefined, host: string): string {
  if (net.isIP(host) === 0) return host;
  return name !== undefined && DNS_NAME.test(name) ? name : host;
}

/** A DNS name with at least one letter (so never an address), labels of letters, digits and inner hyphens. */
const DNS_NAME = /^(?=.*[A-Za-z])[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

const contexts = new WeakMap<DialTls, tls.SecureContext>();

function contextOf(t: DialTls): tls.SecureContext {
  let ctx = contexts.get(t);
  if (ctx === undefined) {
    ctx = tls.createSecureContext({
      ...(t.ca === undefined ? {} : { ca: t.ca }),
      ...(t.cert === undefined ? {} : { cert: t.cert }),
      ...(t.key === undefined ? {} : { key: t.key }),
    });
    contexts.set(t, ctx);
  }
  return ctx;
}

/** A socket being connected, and the event that says it is ready for the first line. */
export interface Dialed {
  readonly socket: net.Socket;
  readonly ready: 'connect' | 'secureConnect';
  /** The name its certificate must hold (TLS only), for messages. */
  readonly checked?: string;
}

/** Connect to `at`, with TLS when `t` is given (verifying the far end as `name`); noDelay set either way. */
export function dial(at: Where, t: DialTls | null, name?: string): Dialed {
  if (t === null) {
    const socket = net.connect({ host: at.host, port: at.port });
    socket.setNoDelay(true);
    return { socket, ready: 'connect' };
  }
  const sn = serverName(name, at.host);
  const socket = tls.connect({
    host: at.host,
    port: at.port,
    secureContext: contextOf(t),
    // SNI takes names only; an address is checked against the certificate's IP entries.
    ...(net.isIP(sn) === 0 ? { servername: sn } : {}),
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(sn, cert),
  });
  socket.setNoDelay(true);
  return { socket, ready: 'secureConnect', checked: sn };
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/**
 * What a failed TLS connection means, in words: `secure`, whether the
 * handshake had finished; `checked`, the name the far end had to hold.
 */
export function tlsFailure(err: NodeJS.ErrnoException, secure: boolean, checked: string | undefined): string {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return (
      `its TLS certificate is not for ${checked ?? 'the name dialled'} (${err.message}); dial it by a name or ` +
      `address its certificate holds`
    );
  if (UNTRUSTED.has(code))
    return `its TLS certificate is not signed by a CA we trust (${code}): --ca FILE must be the CA that signed it`;
  if (code === 'CERT_HAS_EXPIRED') return 'its TLS certificate has expired';
  if (code === 'CERT_NOT_YET_VALID') return 'its TLS certificate is not valid yet (check the clocks)';
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR)/.test(code))
    return `it refused our TLS certificate (${code}): it trusts another CA, or wants a certificate we lack`;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER|HTTP_REQUEST|UNEXPECTED_MESSAGE/.test(code) || !secure)
    return (
      `it does not speak TLS (${code || err.message}; a plain NDJSON port?): drop --ca, --cert and --key, or ` +
      `give it --ca, --cert and --key too`
    );
  return `TLS failed (${code || err.message})`;
}

// ---- the listening side ---------------------------------------------------

/** What a connection's certificate lets it be. */
export type CertCheck =
  | { readonly ok: false; readonly why: string }
  | {
      readonly ok: true;
      /** Its certificate is signed by --ca: it may say it is a peer (named in it). */
      readonly peer: boolean;
      readonly cert: tls.PeerCertificate | null;
    };

/** Whether `leaf` is signed by one of `cas` (directly; the TLS library has already checked the chain). */
function signedBy(leaf: X509Certificate, cas: readonly X509Certificate[]): boolean {
  return cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
}

function subjectOf(cert: tls.PeerCertificate): string {
  const san = cert.subjectaltname;
  return san !== undefined && san !== '' ? san : `CN=${String(cert.subject?.CN ?? '?')}`;
}

/** A listener's TLS: the handshake on each accepted socket, and what each certificate allows. */
export class TlsAcceptor {
  private readonly server: tls.Server;
  private readonly peerCas: X509Certificate[];
  private readonly clientCaRequired: boolean;
  private readonly handed = new WeakMap<net.Socket, (s: tls.TLSSocket) => void>();
  private readonly failed = new WeakMap<net.Socket, (why: string) => void>();

  constructor(files: PeerTls) {
    this.peerCas = pemCertificates('--ca', files.ca);
    this.clientCaRequired = files.clientCa !== null;
    this.server = tls.createServer({
      cert: files.cert,
      key: files.key,
      ca: files.clientCa === null ? files.ca : [files.ca, files.clientCa],
      // Asked for, not required: clients may come without one, and a refusal is said in words (check()).
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: HANDSHAKE_MS,
    });
    this.server.on('secureConnection', (s: tls.TLSSocket) => this.handed.get(parentOf(s) ?? s)?.(s));
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, s: tls.TLSSocket) => {
      const raw = parentOf(s);
      if (raw !== undefined) this.failed.get(raw)?.(tlsServerFailure(err));
      s.destroy();
    });
  }

  /**
   * Look at `raw`'s first byte: a TLS handshake gets `secure` once it is
   * done; anything else, or silence for SNIFF_MS, gets `plain` (the caller
   * refuses it); a handshake that fails, `failed`.
   */
  accept(
    raw: net.Socket,
    on: { secure: (s: tls.TLSSocket) => void; plain: (what: string) => void; failed: (why: string) => void },
  ): void {
    let decided = false;
    // Decided after the poll phase (setImmediate): if this process was busy past the deadline, bytes that
    // came meanwhile are read first, so a TLS client is never taken for a silent one.
    const silence = setTimeout(
      () =>
        setImmediate(() => {
          if (decided || raw.destroyed) return;
          decided = true;
          raw.off('data', first);
          on.plain('it sent nothing (a plaintext client waiting for a challenge?)');
        }),
      SNIFF_MS,
    );
    raw.once('close', () => clearTimeout(silence));
    const first = (chunk: Buffer): void => {
      if (decided) return;
      decided = true;
      clearTimeout(silence);
      raw.pause();
      raw.unshift(chunk);
      if (chunk[0] !== 0x16) return on.plain('it spoke plaintext');
      this.handed.set(raw, on.secure);
      this.failed.set(raw, on.failed);
      this.server.emit('connection', raw);
    };
    raw.once('data', first);
  }

  /** What the certificate of a connection whose handshake is done lets it be. */
  check(s: tls.TLSSocket): CertCheck {
    const cert = s.getPeerCertificate();
    const present = cert !== null && Object.keys(cert).length > 0;
    if (present && !s.authorized)
      return {
        ok: false,
        why:
          `its TLS certificate (${subjectOf(cert)}) is not signed by a CA this peer trusts ` +
          `(${String(s.authorizationError ?? 'unverified')})`,
      };
    if (!present)
      return this.clientCaRequired
        ? {
            ok: false,
            why:
              'it presented no TLS certificate, and this peer requires one of clients (--client-ca): pass --cert ' +
              'and --key',
          }
        : { ok: true, peer: false, cert: null };
    const leaf = s.getPeerX509Certificate();
    const peer = !this.clientCaRequired || (leaf !== undefined && signedBy(leaf, this.peerCas));
    return { ok: true, peer, cert };
  }
}

/**
 * Why a connection that says it is peer `from` (hostsfile name `name`) may
 * not be, by its certificate; undefined if it may.
 */
export function peerCertProblem(check: CertCheck, from: number, name: string | undefined): string | undefined {
  if (!check.ok) return check.why;
  const who = `peer_id ${from}${name === undefined ? '' : ` (${name})`}`;
  if (!check.peer || check.cert === null)
    return `it says it is ${who}, but presented no TLS certificate signed by --ca (peers must: mutual TLS)`;
  if (name === undefined) return undefined;
  const err = tls.checkServerIdentity(name, check.cert);
  return err === undefined
    ? undefined
    : `it says it is ${who}, but its TLS certificate is not for ${name} (${subjectOf(check.cert)})`;
}

/** What a handshake that failed on the listener's side means. */
function tlsServerFailure(err: NodeJS.ErrnoException): string {
  const code = err.code ?? err.message;
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN)/.test(code))
    return `the TLS handshake failed: it does not trust this peer's certificate (${code}; another CA?)`;
  if (code === 'ECONNRESET')
    return (
      `the TLS handshake failed: it hung up (${code}; does it trust this peer's CA, and dial a name its ` +
      `certificate holds?)`
    );
  return `the TLS handshake failed (${code})`;
}

/**
 * The accepted socket a TLS socket was made on. Node keeps it as `_parent`,
 * which it does not document; without it, a failed handshake is still
 * closed, only said about at debug level by the socket's own close.
 */
function parentOf(s: tls.TLSSocket): net.Socket | undefined {
  const p = (s as unknown as { _parent?: unknown })._parent;
  return p instanceof net.Socket ? p : undefined;
}
