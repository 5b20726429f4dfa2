// `paxos snapshot save | restore | status`: backups of the replicated
// key-value store (src/storage/backup.ts holds the file's format).
//
// save: a linearizable read (a range, count only) finds a replica that has
// applied every write acknowledged before it began, and the slot it read
// at; that replica's dump (a frozen view at its applied slot, at least that
// one) is written to the file. restore: the file, every line's checksum
// verified, becomes the snapshot of a new, empty data directory; a replica
// started on it recovers like any new one (docs/recovery.md) and starts
// from the backup's slot.

import { stat } from 'node:fs/promises';
import { ConfigError } from '../config/errors.js';
import { parseFlags } from '../config/flags.js';
import { kvCall } from '../client/kv.js';
import { KvBuilder } from '../sm/kv-builder.js';
import { SnapshotError } from '../sm/kv.js';
import { BackupError, readBackup, restoreInto, StateError, writeBackup } from '../daemon/backup.js';
import { EXIT } from './client-command.js';
import { callSettings, CLIENT_FLAGS } from './client-flags.js';
import { cliClient, replicaTargets } from './kv-command.js';

export const SNAPSHOT_HELP = `Usage: paxos snapshot save FILE [options]
       paxos snapshot restore FILE --data-dir DIR
       paxos snapshot status FILE [--json]

Backups of the replicated key-value store.

save writes every key, with its value and revisions, as of one log slot,
to FILE: a replica that has applied every write acknowledged before save
began sends its store, frozen at that slot, while the cluster goes on.
Each line of FILE carries its own checksum. The clients' sessions are not
kept: a restored cluster's clients start new ones.

restore makes DIR, a new or empty directory, the data directory of a
replica whose store is the backup's. Restore every member of a new cluster
from the same FILE, each into its own --data-dir, then start them all: they
recover as a new cluster does (every replica up once) and go on from the
backup's slot. It writes nothing if FILE is damaged, and names the line
and byte of the damage.

status checks every line of FILE and prints its slot, keys, when it was
taken and from which replica.

      --data-dir DIR     restore: the data directory to make (new or empty)
      --endpoints HOST=ADDR[:PORT],...
                         save: the replicas (or PAXOS_ENDPOINTS), as for
                         paxos put
  -h, --hostsfile FILE   save: the cluster's hostsfile (default ./hostsfile)
      --to HOST          save: try replica HOST first
      --port N, --resolve HOST=ADDR[:PORT], --secret-file FILE,
      --ca FILE, --cert FILE, --key FILE
                         save: as for paxos put
      --timeout SECS     save: how long to keep trying, in all (default 10)
      --json             print one JSON object
      --help             show this help

Exit status: 0 done; 1 FILE is damaged or not a backup, or DIR is not
empty (nothing written); 2 usage error; 5 save: no replica could send its
store.`;

export async function snapshotCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...CLIENT_FLAGS, 'data-dir': { type: 'string' } }, true);
  if (values.help === true || positionals.length === 0) {
    process.stdout.write(`${SNAPSHOT_HELP}\n`);
    return values.help === true ? EXIT.ok : EXIT.usage;
  }
  const [verb, file, ...rest] = positionals;
  if (verb !== 'save' && verb !== 'restore' && verb !== 'status')
    throw new ConfigError(
      `snapshot ${verb}: not a snapshot command; use save, restore or status (paxos snapshot --help)`,
    );
  if (file === undefined || rest.length > 0)
    throw new ConfigError(`snapshot ${verb} takes one FILE; see paxos snapshot --help`);
  if (verb !== 'restore' && values['data-dir'] !== undefined)
    throw new ConfigError(`--data-dir is for snapshot restore only`);
  if (verb === 'restore' && values['data-dir'] === undefined)
    throw new ConfigError('snapshot restore needs --data-dir DIR: the directory to make');
  const json = values.json === true;
  const say = (code: number, text: string, o: Record<string, unknown>): number => {
    if (json) process.stdout.write(`${JSON.stringify(o)}\n`);
    else (code === EXIT.ok ? process.stdout : process.stderr).write(`${text}\n`);
    return code;
  };
  if (verb === 'save') return save(file, values, say);
  try {
    const { head, store } = await readBackup(file);
    if (verb === 'status')
      return say(
        EXIT.ok,
        `${file}: ${head.keys} keys as of slot ${head.applied}, taken ${head.taken} from ${head.from}; every ` +
          `line's checksum holds`,
        { outcome: 'ok', file, ...head },
      );
    const dir = values['data-dir']!;
    try {
      await restoreInto(dir, store);
    } catch (err) {
      if (!(err instanceof StateError)) throw err;
      return say(EXIT.lost, `paxos: ${err.message}`, { outcome: 'fail', why: err.message });
    }
    return say(
      EXIT.ok,
      `restored ${head.keys} keys as of slot ${head.applied} into ${dir}. Restore every member from the same ` +
        `file, then start each with --data-dir on its directory`,
      { outcome: 'ok', file, dir, ...head },
    );
  } catch (err) {
    if (!(err instanceof BackupError)) throw err;
    return say(EXIT.lost, `paxos: ${err.message}; nothing was written`, { outcome: 'fail', why: err.message });
  }
}

async function save(
  file: string,
  values: Parameters<typeof replicaTargets>[1] & Parameters<typeof callSettings>[1] & { to?: string },
  say: (code: number, text: string, o: Record<string, unknown>) => number,
): Promise<number> {
  const { targets } = replicaTargets('snapshot save', values);
  const { timeoutMs, secret, tls } = callSettings('snapshot save', values);
  const client = cliClient(targets, { timeoutMs, secret, tls });
  let read;
  try {
    // A linearizable read: its replica has applied every write acknowledged before now.
    read = (
      await client.executeRange({ from: '', countOnly: true }, values.to === undefined ? {} : { first: values.to })
    ).outcome;
  } finally {
    await client.close();
  }
  if (read.kind !== 'range')
    return say(
      EXIT.refused,
      `paxos: snapshot save: no replica could read the store: ${'why' in read ? read.why : read.kind}`,
      {
        outcome: 'fail',
        why: 'why' in read ? read.why : read.kind,
      },
    );
  const at = targets.findIndex((t) => t.name === read.peer);
  const dump = await kvCall(
    at < 0 ? targets : [targets[at]!],
    { type: 'dump' },
    { secret, tls, timeoutMs, first: 0, maxAttempts: 1, attemptMs: timeoutMs },
  );
  if (dump.kind !== 'dump' || dump.applied < read.applied || dump.recovering !== undefined) {
    const why =
      dump.kind !== 'dump'
        ? `${read.peer} did not send its store (${'why' in dump ? dump.why : dump.kind})`
        : dump.recovering !== undefined
          ? `${read.peer} is recovering`
          : `${read.peer} sent slot ${dump.applied}, before the ${read.applied} it read at (it restarted?)`;
    return say(EXIT.refused, `paxos: snapshot save: ${why}; nothing was written; try again`, { outcome: 'fail', why });
  }
  let store;
  try {
    const b = new KvBuilder(dump.applied, dump.leases?.next ?? 1);
    for (const e of dump.data) b.entry(e);
    for (const l of dump.leases?.lines ?? []) b.lease(l);
    store = b.build();
  } catch (err) {
    if (!(err instanceof SnapshotError)) throw err;
    return say(EXIT.refused, `paxos: snapshot save: ${read.peer} sent a store we cannot read: ${err.message}`, {
      outcome: 'fail',
      why: err.message,
    });
  }
  const view = store.view();
  try {
    await writeBackup(file, view, read.peer);
  } finally {
    view.close();
  }
  const bytes = (await stat(file)).size;
  return say(
    EXIT.ok,
    `saved ${store.size} keys as of slot ${dump.applied}, from ${read.peer}, to ${file} (${bytes} bytes)`,
    { outcome: 'ok', file, applied: dump.applied, keys: store.size, from: read.peer, bytes },
  );
}
