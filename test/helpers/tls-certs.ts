// Test certificates, made at test time by scripts/test-ca.sh (openssl) into a
// temporary directory: a CA and one certificate per name, each with the
// addresses it is reached at in its subjectAltName. Never committed.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './cli.js';

export interface TestCa {
  readonly dir: string;
  readonly ca: string;
  crt(name: string): string;
  key(name: string): string;
  /** A peer's flags: --ca, --cert, --key. */
  peerFlags(name: string): string[];
}

/** Makes a CA and a certificate per name in `dir`; `sans` adds addresses or names to a name's certificate. */
export function makeTestCa(dir: string, names: readonly string[], sans: (name: string) => string[] = () => []): TestCa {
  const specs = names.map((n) => {
    const extra = sans(n);
    return extra.length === 0 ? n : `${n}=${extra.join(',')}`;
  });
  execFileSync('bash', [path.join(ROOT, 'scripts/test-ca.sh'), dir, ...specs], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const crt = (n: string): string => path.join(dir, `${n}.crt`);
  const key = (n: string): string => path.join(dir, `${n}.key`);
  return {
    dir,
    ca: path.join(dir, 'ca.crt'),
    crt,
    key,
    peerFlags: (n) => ['--ca', path.join(dir, 'ca.crt'), '--cert', crt(n), '--key', key(n)],
  };
}
