// Whether a replica is ready for clients (the daemon's /readyz, `paxos
// status`'s health column): one pure rule over what the replica knows, so
// the HTTP probe, the status command and their tests agree on it.

/** How far (in slots) a replica's applied index may trail the leader's commit and still be ready. */
export const READY_MAX_LAG_SLOTS = 1000;

/** What the rule looks at. */
export interface ReadinessInput {
  /** Whether it knows a leader (itself included). */
  readonly leaderKnown: boolean;
  /** Why it is recovering lost state, or null once it votes (ReplicaNode.recoveryStatus). */
  readonly recovering: string | null;
  /** The last slot it applied. */
  readonly applied: number;
  /** The last slot the leader said was chosen, as this replica last heard it (or knows itself). */
  readonly commit: number;
}

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly why: string };

/**
 * Ready when it knows a leader, is not recovering, and has applied up to
 * within `maxLag` slots of the leader's commit; else why not, in one line.
 */
export function readiness(s: ReadinessInput, maxLag = READY_MAX_LAG_SLOTS): Readiness {
  if (s.recovering !== null) return { ready: false, why: s.recovering };
  if (!s.leaderKnown) return { ready: false, why: 'no leader known' };
  const behind = s.commit - s.applied;
  if (behind > maxLag)
    return { ready: false, why: `applied ${s.applied}, ${behind} behind commit ${s.commit} (at most ${maxLag})` };
  return { ready: true };
}
