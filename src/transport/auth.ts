// Authenticated connections, with a shared secret (--secret-file FILE, or
// the PAXOS_SECRET environment variable). Every connection, peer or client,
// starts with a challenge and response, and nothing else is read before it:
//
//   server    -> {"type":"challenge","nonce":Ns}
//   connector -> {"type":"auth","from":ID,"to":TO,"nonce":Nc,"mac":HMAC(k, "client", Ns, Nc, ID, TO)}
//   server    -> {"type":"auth_ok","mac":HMAC(k, "server", Ns, Nc, ID, TO)}
//
// ID is the connector's peer id, or 0 for a client. TO is the peer id the
// connector means to reach (0: any, for clients); the server refuses a TO
// that is not its own, so a stale address that now leads to another peer
// is caught. Both sides prove they hold the secret, and fresh nonces mean a
// recorded handshake cannot be replayed. The secret itself never crosses the
// wire and is never logged: messages name the file or the variable.
//
// Without a secret, a peer's connection opens with
//   connector -> {"type":"hello","from":ID,"to":TO}
//   server    -> {"type":"welcome","from":TO}
// and the connector sends nothing else until the welcome names the peer it
// meant. Clients (ID 0) skip this and send their request at once.
//
// With a secret, every line after the handshake, each way, carries a MAC
// under keys derived from the secret and both nonces: message-mac.ts.
//
// Where the secret comes from (the file, the variable, their checks) is
// src/config/secret.ts: this file only does the handshake.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type net from 'node:net';
import type { Secret } from '../config/secret.js';
import { MAX_LINE_BYTES } from '../paxos/defaults.js';
import { LineReader } from './lines.js';
import { MessageMac } from './message-mac.js';
import { refusedWhy } from './tls.js';

export type { Secret };

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

export function mac(
  secret: Secret,
  role: 'client' | 'server',
  serverNonce: string,
  clientNonce: string,
  from: number,
  to: number,
): string {
  return createHmac('sha256', secret.key)
    .update(`paxos/2\n${role}\n${serverNonce}\n${clientNonce}\n${from}\n${to}`)
    .digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;
const NONCE = /^[0-9a-f]{32}$/;

/** A nonce as we make them: 16 random bytes in hex. Anything else is refused. */
export function isNonce(x: unknown): x is string {
  return typeof x === 'string' && NONCE.test(x);
}

/**
 * Constant-time comparison of a received MAC with the expected one. The
 * shape is checked first, so timingSafeEqual always gets equal lengths.
 */
export function sameMac(a: unknown, b: string): boolean {
  if (typeof a !== 'string' || !HEX64.test(a)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/**
 * `mac`: with a secret, what seals every line we send from now on and opens
 * every line we receive (message-mac.ts); null running open.
 * `closed`: it hung up without a word, as a fault proxy in front of a peer that is down does.
 */
export type Introduced =
  { ok: true; mac: MessageMac | null } | { ok: false; why: string; needsSecret?: true; closed?: true; refused?: true };

export interface Introduction {
  /** Our peer id, or 0 for a client. */
  readonly from: number;
  /** The peer id we mean to reach, or 0 (a client that takes any peer). */
  readonly to: number;
  readonly secret: Secret | null;
  /** Give up on a peer that does not finish the handshake in this long. */
  readonly timeoutMs: number;
  /** The connection is TLS (tls.ts): its lines need no MAC of ours, TLS protects them. */
  readonly tls?: boolean;
  /** A program's client, not the CLI: messages name connect()'s options. */
  readonly program?: boolean;
}

/**
 * The connector's side, run as soon as `socket` connects. With a secret:
 * answer the server's challenge and check its proof. Without one: a peer
 * says hello and waits for the welcome that names the peer it reached; a
 * client says nothing. Either way a peer never talks to the wrong peer.
 */
export function introduce(socket: net.Socket, intro: Introduction): Promise<Introduced> {
  const { from, to, secret } = intro;
  if (secret === null && from === 0) return Promise.resolve({ ok: true, mac: null });
  return new Promise((resolve) => {
    const clientNonce = newNonce();
    let serverNonce: string | null = null;
    const finish = (r: Introduced): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          why: `no ${secret === null ? 'welcome' : 'challenge'} within ${intro.timeoutMs / 1000} s`,
        }),
      intro.timeoutMs,
    );
    const reader = new LineReader(
      MAX_LINE_BYTES,
      (line) => {
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return finish({ ok: false, why: 'it sent something that is not JSON during the handshake' });
        }
        // A TLS listener's word on why it will not talk to us (tls.ts), before it closes.
        if (m['type'] === 'refused') return finish({ ok: false, why: refusedWhy(m, intro.program), refused: true });
        if (secret === null) {
          if (m['type'] === 'challenge') {
            return finish({
              ok: false,
              why: 'it requires a shared secret, and this peer has none (--secret-file or PAXOS_SECRET)',
              needsSecret: true,
            });
          }
          if (m['type'] !== 'welcome') return finish({ ok: false, why: 'it did not answer the hello with a welcome' });
          if (m['from'] !== to)
            return finish({
              ok: false,
              why:
                `it is peer_id ${JSON.stringify(m['from'])}, not ${to}: the address leads to another peer ` +
                `(a restarted container's old address?)`,
            });
          return finish({ ok: true, mac: null });
        }
        if (serverNonce === null) {
          if (m['type'] !== 'challenge' || !isNonce(m['nonce']))
            return finish({ ok: false, why: 'it did not start with a proper challenge' });
          serverNonce = m['nonce'];
          const proof = mac(secret, 'client', serverNonce, clientNonce, from, to);
          socket.write(`${JSON.stringify({ type: 'auth', from, to, nonce: clientNonce, mac: proof })}\n`);
          return;
        }
        if (m['type'] !== 'auth_ok' || !sameMac(m['mac'], mac(secret, 'server', serverNonce, clientNonce, from, to))) {
          return finish({ ok: false, why: 'it could not prove it holds the shared secret' });
        }
        // On TLS, TLS protects every line; else each is sealed under the secret.
        const sealed =
          intro.tls === true ? null : new MessageMac(secret, { serverNonce, clientNonce, from, to }, 'connector');
        finish({ ok: true, mac: sealed });
      },
      (why) => finish({ ok: false, why: `it sent ${why} during the handshake` }),
    );
    const onData = (chunk: Buffer): void => reader.push(chunk);
    const guesses = [secret === null ? '' : 'a wrong secret', to === 0 ? '' : 'not the peer we meant'];
    const onClose = (): void =>
      finish({
        ok: false,
        why: `it closed the connection during the handshake (${guesses.filter((w) => w !== '').join(', or ')}?)`,
        closed: true,
      });
    socket.on('data', onData);
    socket.once('close', onClose);
    if (secret === null) socket.write(`${JSON.stringify({ type: 'hello', from, to })}\n`);
  });
}
