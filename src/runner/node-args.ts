// How Node itself runs a peer process: what the runner, the live page, the
// nemesis and the benchmarks pass to `node` (and the kv compose files set in
// NODE_OPTIONS).
//
// Under load a replica's young generation grows to V8's default two 16 MiB
// semi-spaces, which is 32 MiB of RSS for garbage that lives a few ms. Two
// 8 MiB ones took a loaded replica's peak RSS from about 137 to 119 MiB in a
// 60 s soak at 64 clients, with no loss of throughput. Since replicas sync
// on the loop thread (storage/wal.ts, syncNow) they read more per turn, and
// with 8 MiB the peak at 256 clients rose to 145-157 MiB; with 4 MiB it is
// 136-139 MiB, throughput within the noise (docs/performance.md, Memory).
// V8 sizes the heap when it starts, so this must be on the command line (or
// in NODE_OPTIONS); v8.setFlagsFromString from inside has no effect on it.
//
// Lab peers do not get it: they stay under 60 MiB anyway, and with it five of
// them starting at once on two cores took 60-80 ms longer to decide
// testcase 1.

import { loadHostsfile } from '../config/hostsfile.js';

export const REPLICA_NODE_ARGS: readonly string[] = ['--max-semi-space-size=4'];

/** The node flags for a peer of the cluster `hostsfile` describes. */
export function peerNodeArgs(hostsfile: string): readonly string[] {
  return loadHostsfile(hostsfile).mode === 'log' ? REPLICA_NODE_ARGS : [];
}
