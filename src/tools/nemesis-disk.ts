// The nemesis's disk faults (nemesis.ts): a down replica's data directory
// wiped, or bytes flipped in its log segments or snapshots.

import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pick } from '../util/prng.js';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/**
 * Damage a down replica's data directory: wipe it (a replaced disk), or flip
 * a few bytes in its log segments or snapshots. Says what it did.
 */
export function damageDisk(dataDir: string, rng: () => number): string {
  if (rng() < 0.4) {
    renameSync(dataDir, `${dataDir}.wiped-${Date.now()}`);
    return 'wiped its data directory';
  }
  const files = [...filesUnder(path.join(dataDir, 'log')), ...filesUnder(path.join(dataDir, 'snapshots'))].filter((f) =>
    /\.(wal|snap)$/.test(f),
  );
  const file = files.length === 0 ? undefined : pick(rng, files);
  if (file === undefined) {
    renameSync(dataDir, `${dataDir}.wiped-${Date.now()}`);
    return 'wiped its data directory (no log yet)';
  }
  const bytes = readFileSync(file);
  // A log segment may end in zeros written ahead of its records (WalOptions.zeroAhead): flip bytes of the records.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return `left ${path.basename(file)} alone (no records)`;
  const flips = 1 + Math.floor(rng() * 3);
  const at: number[] = [];
  for (let i = 0; i < flips; i++) {
    const o = Math.floor(rng() * end);
    bytes[o] = bytes[o]! ^ (1 << Math.floor(rng() * 8));
    at.push(o);
  }
  writeFileSync(file, bytes);
  return `flipped bytes ${at.join(', ')} of ${path.relative(dataDir, file)} (${bytes.length} bytes)`;
}
