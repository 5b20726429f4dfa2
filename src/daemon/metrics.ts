// A replica's Prometheus metrics (prom-client), served at /metrics by
// health-http.ts. Counters and histograms are fed as things happen: by the
// node (ReplicaMetrics, src/node/replica-types.ts), by the daemon (client
// ops) and by the store (fsync). Gauges are read when Prometheus scrapes:
// the node's status and the peer links, through a MetricsSource. Each
// replica has a registry of its own, so two in one process never mix.
// docs/operations.md ("Health and metrics") lists every metric.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import type { ProposalOutcome, ReplicaMetrics, ReplicaStatus } from '../node/replica-node.js';
import type { FsyncKind } from '../storage/fsync.js';

/** What the gauges read at each scrape. */
export interface MetricsSource {
  /** The node's state and its last snapshot's slot; null before it started. */
  status(): (ReplicaStatus & { readonly snapshot: number }) | null;
  /** Each peer link: the peer's name, whether it is up, its last round trip in ms (null: none measured yet). */
  peers(): ReadonlyArray<{ readonly name: string; readonly up: boolean; readonly rttMs: number | null }>;
}

/** Seconds, 0.5 ms up to about 8 s: a disk's fsync, or an apply that waited on one. */
const SECONDS_BUCKETS = exponentialBuckets(0.0005, 2, 15);

export class PromMetrics implements ReplicaMetrics {
  readonly registry = new Registry();
  private readonly leaderChanges: Counter;
  private readonly proposals: Counter<'outcome'>;
  private readonly forwards: Counter;
  private readonly clientOps: Counter<'op' | 'outcome'>;
  private readonly clientSeconds: Histogram<'op'>;
  private readonly fsyncSeconds: Histogram;
  private readonly snapshotFsyncSeconds: Histogram;
  private readonly applyLag: Histogram;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.leaderChanges = new Counter({
      name: 'paxos_leader_changes_seen_total',
      help: 'Times this replica came to know a leader: a new one, or one again after a time with none.',
      registers,
    });
    this.proposals = new Counter({
      name: 'paxos_proposals_total',
      help:
        'Client commands submitted to this replica (reads by index excluded), by what became of them: chosen ' +
        '(applied and answered), unplaced (answered no leader: none known, never passed on), not_ready ' +
        '(refused while recovering), abandoned (the client left first).',
      labelNames: ['outcome'],
      registers,
    });
    this.forwards = new Counter({
      name: 'paxos_forwarded_commands_total',
      help: 'Client commands this replica passed on to the leader (a command passed on again counts again).',
      registers,
    });
    this.clientOps = new Counter({
      name: 'paxos_client_ops_total',
      help:
        'Client requests answered by this replica, by op (put, get, del, cas, txn, grant, keep, revoke, leases, ' +
        "range, watch, dump, status) and outcome (ok, or the store's refusal: mismatch, else, stale, expired, " +
        'quota, nolease, toomany; or no_leader, not_ready, compacted).',
      labelNames: ['op', 'outcome'],
      registers,
    });
    this.clientSeconds = new Histogram({
      name: 'paxos_client_op_duration_seconds',
      help: 'Seconds from a client request reaching this replica to its answer leaving, by op.',
      labelNames: ['op'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.fsyncSeconds = new Histogram({
      name: 'paxos_wal_fsync_duration_seconds',
      help: "Seconds each fdatasync of the write-ahead log took (one per batch of the node loop's group commit).",
      buckets: SECONDS_BUCKETS,
      registers,
    });
    // A histogram of its own, not a label on the one above: its samples stay unlabeled for every reader.
    this.snapshotFsyncSeconds = new Histogram({
      name: 'paxos_snapshot_fsync_duration_seconds',
      help:
        'Seconds each fsync made while writing a snapshot took: the snapshot file and its directory, then the ' +
        'replica file (store.jsonl) written from the same view and its directory (four per snapshot; the replica ' +
        'file is written at a clean stop too).',
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.applyLag = new Histogram({
      name: 'paxos_apply_lag_seconds',
      help:
        'Seconds from this replica learning a slot was chosen to applying it to its store (waiting for ' +
        'earlier slots, a snapshot or a disk write).',
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.statusGauges(source, registers);
    this.peerGauges(source, registers);
  }

  proposal(outcome: ProposalOutcome): void {
    this.proposals.inc({ outcome });
  }

  forwarded(commands: number): void {
    this.forwards.inc(commands);
  }

  applied(lagSeconds: number): void {
    this.applyLag.observe(lagSeconds);
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  /** A client request answered: its op, outcome, and seconds from arrival to answer. */
  clientOp(op: string, outcome: string, seconds: number): void {
    this.clientOps.inc({ op, outcome });
    this.clientSeconds.observe({ op }, seconds);
  }

  /** An fsync of the store: the write-ahead log's (one per group commit), or one made writing a snapshot. */
  fsync(seconds: number, kind: FsyncKind = 'wal'): void {
    (kind === 'snapshot' ? this.snapshotFsyncSeconds : this.fsyncSeconds).observe(seconds);
  }

  /** Prometheus's text format. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private statusGauges(source: MetricsSource, registers: Registry[]): void {
    const gauge = (name: string, help: string, read: (s: ReplicaStatus & { snapshot: number }) => number): void =>
      void new Gauge({
        name,
        help,
        registers,
        collect() {
          const s = source.status();
          if (s === null) this.reset();
          else this.set(read(s));
        },
      });
    gauge('paxos_is_leader', '1 if this replica is the leader, else 0.', (s) => (s.role === 'leader' ? 1 : 0));
    gauge('paxos_recovering', '1 while this replica recovers lost state before it votes, else 0.', (s) =>
      s.recovering === null ? 0 : 1,
    );
    gauge(
      'paxos_ballot',
      "The highest ballot this replica promised: the ballot in force, the leader's once it follows one.",
      (s) => s.promise,
    );
    gauge(
      'paxos_own_ballot',
      'The ballot this replica last stood with as candidate or leader (0: never).',
      (s) => s.ballot,
    );
    gauge('paxos_commit_index', 'The last slot this replica knows chosen (every slot before it too).', (s) => s.commit);
    gauge(
      'paxos_leader_commit_index',
      'The last slot the leader said was chosen, as this replica last heard (its own commit when higher).',
      (s) => s.leaderCommit,
    );
    gauge('paxos_applied_index', "The last slot applied to this replica's store.", (s) => s.applied);
    gauge(
      'paxos_snapshot_index',
      "The slot of this replica's last snapshot, taken or installed (0: none).",
      (s) => s.snapshot,
    );
  }

  private peerGauges(source: MetricsSource, registers: Registry[]): void {
    new Gauge({
      name: 'paxos_peer_up',
      help: "1 if this replica's link to the peer is up (it answers pings), else 0.",
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const p of source.peers()) this.set({ peer: p.name }, p.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'paxos_peer_rtt_seconds',
      help: "The last round trip of a ping on this replica's link to the peer (kept while the link is down).",
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const p of source.peers()) if (p.rttMs !== null) this.set({ peer: p.name }, p.rttMs / 1000);
      },
    });
  }
}
