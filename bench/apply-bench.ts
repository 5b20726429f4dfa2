// What a replica does with a slot's commands once the slot is chosen, alone:
// `npm run bench:apply -- [--commands N] [--value-bytes B] [--rounds R]`.
//
// N puts (1,000 keys, 5,000 clients), B-byte values, 100 to a slot, parsed
// from JSON as they come off the wire. Times, median of R rounds:
//   - the edge: checkCommand on each, once, where the bytes arrive (a client's
//     request at the leader, the accept at a follower: src/wire/);
//   - applying: ReplicaNode.applySlot's work, KvStore.applyBatch on what the
//     edge handed on, with no decode (src/sm/command.ts says why).
// Before issue 20, applying also decoded each command again, and applyBatch
// ran decodeCommand(encodeCommand(cmd)) on it: compare with an older build by
// timing its applySlot (decodeCommand per command, then applyBatch).

import { integer, parseFlags, toolSettings } from '../src/config/flags.js';
import { checkCommand, type CheckedCommand } from '../src/sm/command.js';
import { KvStore } from '../src/sm/kv.js';

const PER_SLOT = 100;

function slots(n: number, value: string): unknown[][] {
  const out: unknown[][] = [];
  for (let s = 0; s < n / PER_SLOT; s++) {
    const v: unknown[] = [];
    for (let i = 0; i < PER_SLOT; i++) {
      const j = s * PER_SLOT + i;
      v.push({ o: 'put', c: `cli-${j % 5000}`, s: Math.floor(j / 5000) + 1, k: `key${j % 1000}`, v: value });
    }
    out.push(JSON.parse(JSON.stringify(v)) as unknown[]);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const HELP = `Usage: npm run bench:apply -- [--commands N] [--value-bytes B] [--rounds R]

Times checking N puts at the edge and applying them to a store, alone (no
network, no disk); the median of R rounds. Defaults: 100000, 100, 7.`;

function main(): void {
  const { n, bytes, rounds } = toolSettings('bench:apply', HELP, (argv) => {
    const { values } = parseFlags(argv, {
      commands: { type: 'string', default: '100000' },
      'value-bytes': { type: 'string', default: '100' },
      rounds: { type: 'string', default: '7' },
    });
    return {
      n: integer('--commands', values.commands, 1),
      bytes: integer('--value-bytes', values['value-bytes'], 0),
      rounds: integer('--rounds', values.rounds, 1),
    };
  });
  const value = 'v'.repeat(bytes);
  const edge: number[] = [];
  const apply: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const raw = slots(n, value);
    const t0 = performance.now();
    const checked = raw.map((v) =>
      v.map((c) => {
        const d = checkCommand(c);
        if (!d.ok) throw new Error(d.why);
        return d.value;
      }),
    );
    const t1 = performance.now();
    const kv = new KvStore();
    checked.forEach((v: CheckedCommand[], i) => kv.applyBatch(v, i + 1));
    const t2 = performance.now();
    edge.push(t1 - t0);
    apply.push(t2 - t1);
  }
  console.log(
    `${n} puts of ${bytes}-byte values, ${PER_SLOT} to a slot, median of ${rounds}: checked at the ` +
      `edge in ${median(edge).toFixed(1)} ms, applied in ${median(apply).toFixed(1)} ms`,
  );
}

main();
