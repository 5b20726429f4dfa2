// Where a testcase's peers run: local processes (local.ts) or Docker
// containers (docker.ts). The session in run.ts only reads their output.

import type { Readable } from 'node:stream';
import type { ComposeProject } from './compose.js';

export interface PeerOutput {
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** performance.now() when the peer was started. */
  readonly spawnedAt: number;
  /** Settles, with a one-line description, if the peer stops on its own. */
  readonly ended: Promise<string>;
}

export interface Launched {
  /** One per compose service, in the compose file's order. */
  readonly outputs: readonly PeerOutput[];
  readonly mode: 'loopback' | 'ports' | 'docker';
  /** Where the peers are, in one line for the user. */
  readonly where: string;
  /** Flags that let a client reach these peers (`--resolve ...`), or none (Docker). */
  readonly clientFlags: readonly string[];
  /** Stop every peer; resolves once all their output has ended. */
  stop(): Promise<void>;
}

export interface LaunchOptions {
  readonly addressMode: 'auto' | 'ports';
  /**
   * Where local peers keep their state: DIR/<hostname>, kept afterwards. When
   * undefined, each run gets fresh directories, removed when it ends.
   */
  readonly dataRoot: string | undefined;
  /** Extra flags for every peer (local runs only). */
  readonly peerArgs: readonly string[];
  /** The runner said "no shared secret" once for all: local peers do not repeat it. */
  readonly quietNoSecret?: boolean;
}

export type Launcher = (project: ComposeProject, opts: LaunchOptions) => Promise<Launched>;
