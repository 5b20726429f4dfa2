// The shared secret: read from --secret-file FILE or the PAXOS_SECRET
// environment variable, and checked (not empty; long enough; not readable
// by others). The handshake that proves it is src/transport/auth.ts; the
// warning when there is none is secret-notice.ts.

import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { MIN_SECRET_BYTES } from '../paxos/defaults.js';

export interface Secret {
  /** Where it came from, for messages (never the secret itself). */
  readonly source: string;
  readonly key: Buffer;
}

/** The secret from --secret-file, else from PAXOS_SECRET, else none. */
export function loadSecret(file: string | undefined, env: NodeJS.ProcessEnv, warnings: string[]): Secret | null {
  let bytes: Buffer;
  let source: string;
  if (file !== undefined) {
    source = `--secret-file ${file}`;
    try {
      // Bytes, not text: two different binary secrets must stay different keys.
      bytes = readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${source}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if ((statSync(file).mode & 0o077) !== 0) warnings.push(`${source} can be read by other users; chmod 600 it`);
  } else if (env['PAXOS_SECRET'] !== undefined) {
    source = 'PAXOS_SECRET';
    bytes = Buffer.from(env['PAXOS_SECRET'], 'utf8');
  } else {
    return null;
  }
  // An editor's trailing newline is not part of the secret.
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end -= 1;
  if (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
  const key = bytes.subarray(0, end);
  if (key.length === 0) throw new ConfigError(`${source} is empty`);
  if (key.length < MIN_SECRET_BYTES)
    warnings.push(`${source} is shorter than ${MIN_SECRET_BYTES} bytes; use a longer secret`);
  return { source, key };
}
