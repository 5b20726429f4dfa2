// `paxos -h FILE [-v VALUE] [-t SECONDS] ...`: run one peer. This is what the
// image's ENTRYPOINT runs, so compose's `command:` passes only these flags.

import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../config/errors.js';
import { hasRole, loadHostsfile, type Cluster, type HostEntry } from '../config/hostsfile.js';
import { DEFAULT_PORT, MAX_VALUE_BYTES } from '../paxos/defaults.js';
import { LOG_LEVELS, stderrLogger, type LogLevel } from '../util/logger.js';
import { labPeer } from '../daemon/launch.js';
import { loadSecret } from '../config/secret.js';
import { loadPeerTls } from '../config/tls-files.js';
import { NO_SECRET_WARNING, NO_SECRET_WARNING_ENV } from '../config/secret-notice.js';
import {
  checkProposal,
  DEFAULTS,
  validate,
  type Address,
  type DelayRule,
  type LabSettings,
  type PeerSettings,
  type ReplicaSettings,
} from '../config/settings.js';
import { byteSize, listenAddress, parseFlags, parseResolve, portNumber, seconds } from '../config/flags.js';
import { supervise } from './supervise.js';
import { READY_MAX_LAG_SLOTS } from '../node/readiness.js';

export type { LabSettings, PeerSettings, ReplicaSettings };
export { DEFAULT_PORT };

export const PEER_HELP = `Usage: paxos -h FILE [-v VALUE] [-t SECONDS] [options]

Runs one Paxos peer. It finds itself in the hostsfile by hostname, listens on
port ${DEFAULT_PORT} as acceptor and/or learner at once, and, if it is a proposer,
waits -t seconds and then proposes -v. Protocol events go to stdout as JSON
lines; everything else goes to stderr.

  -h, --hostsfile FILE     the hostsfile: one hostname:role[,role...] per line,
                           roles proposerK, acceptorK, learnerK (required)
  -v, --value VALUE        the value to propose (UTF-8, 1..${MAX_VALUE_BYTES} bytes).
                           A proposer given no -v waits for a client's
                           \`paxos submit VALUE --to HOST\`.
  -t, --start-after SECS   wait this long before proposing (default 0)
      --name HOST          who this peer is in the hostsfile
                           (default: this machine's hostname, ${JSON.stringify(os.hostname())})
      --join               a replica added after the cluster started (paxos
                           member add NAME=HOST:PORT): NAME (--name) is in no
                           hostsfile. It asks the hostsfile's members for its
                           id until the add is done, then catches up as a
                           learner; a restart finds its id in --data-dir.
      --port N             port to listen on and to reach peers on
                           (default ${DEFAULT_PORT})
      --resolve HOST=ADDR[:PORT]
                           reach HOST at ADDR instead of looking its name up
                           (or, for a member added later, its member add
                           address); for this peer's own HOST, also listen
                           there. Repeatable. \`paxos run\` uses it for local runs.
      --data-dir DIR       where this peer keeps its durable state (promise,
                           accepted value, last proposal number, chosen value)
                           (default ./paxos-data/HOST, in the image
                           /app/paxos-data/HOST). A restarted peer resumes
                           from it; a corrupt or lost state log stops the peer.
      --replica-file FILE  where the peer writes the chosen value once it
                           learns it, atomically (default DATA_DIR/value)
      --secret-file FILE   a shared secret: every connection, peer or client,
                           must prove it holds it (challenge and response
                           with an HMAC over fresh nonces) before anything it
                           sends is read. The PAXOS_SECRET environment
                           variable does the same. With neither, lab peers
                           run open, and say so once on stderr; a replica
                           refuses to start unless given --insecure.
      --insecure           let a replica run with neither TLS nor a shared
                           secret (open: on a trusted network only). Lab
                           peers are open without it.
      --ca FILE            TLS (PEM files): the CA that signed every peer's
      --cert FILE          certificate, this peer's certificate, and its
      --key FILE           private key. All three, or none. With them the
                           listener speaks TLS only (a plaintext connection
                           is told so and closed), links connect with TLS,
                           and peers must present a certificate signed by
                           --ca that holds their hostsfile name (mutual TLS).
                           Clients may present one. A replica with TLS needs
                           no --insecure. See docs/security.md.
      --client-ca FILE     with TLS: clients must present a certificate
                           signed by this CA (default: they may present none)
      --round-timeout SECS retry a round that gets no majority in this long
                           (default ${DEFAULTS.roundTimeoutMs / 1000})
      --peer-timeout SECS  declare a link down when its peer has sent nothing
                           for this long, then close it and redial (default
                           ${DEFAULTS.peerTimeoutMs / 1000}). Links ping every fifth of this, so a
                           killed, frozen or cut-off peer is noticed within
                           it, whatever TCP thinks.
      --exit-after-idle SECS
                           exit (status 0) after this long with no protocol
                           message sent or received (default: never)

A replicated-log cluster (a hostsfile whose every line is HOST:replica)
runs Multi-Paxos with a key-value store on top instead; -v and -t do not
apply, and clients use \`paxos put/get/del/cas\`. Its state lives in
DATA_DIR/log (write-ahead log), DATA_DIR/snapshots and DATA_DIR/store.jsonl
(the readable copy of the store; --replica-file moves it).
      --no-message-lines   print only each slot's chose line, not the sent
                           and received lines (for throughput runs)
      --snapshot-every N   snapshot the store every N applied slots, then
                           drop all but the last N/10 of the log behind it
                           (default 10000; also when the log passes 4 MiB)
      --quota-bytes N      refuse puts and cas that would take the store past
                           N bytes of keys and values (default 2G; K, M, G
                           suffixes); gets and dels still work. Give every
                           replica the same N.
      --metrics ADDR:PORT  serve HTTP at ADDR:PORT (e.g. 127.0.0.1:9100; port
                           0: any free one, printed on stderr): /healthz (200
                           while alive), /readyz (200 when it knows a leader,
                           is not recovering and has applied to within ${READY_MAX_LAG_SLOTS}
                           slots of the leader's commit; else 503 and why) and
                           /metrics (Prometheus). Off by default; replicas only.

Scripting a scenario (for testcases that must play out the same every time):
      --delay TYPE:HOST=MS hold outbound TYPE messages to HOST for MS ms, as a
                           slow network would: e.g. accept:peer3=1500. TYPE is
                           prepare, accept, chose, prepare_ack, accept_ack or
                           *; HOST is a host in the hostsfile or *. The log
                           shows the message as sent when it is decided.
                           Repeatable; the first matching rule applies.
      --rng-seed N         seed the proposer's randomized backoff, so retries
                           wait the same each run (default: random)
      --log-level LEVEL    stderr detail: ${LOG_LEVELS.join(', ')} (default warn)
      --exit-on-stdin-close
                           exit when standard input closes (set by \`paxos run\`
                           so peers never outlive their runner)
      --help               show this help

Other commands:
  paxos run DIR            run a testcase's docker-compose.yml locally
                           (see \`paxos run --help\`)
  paxos submit VALUE --to HOST
                           ask a proposer to propose VALUE; print the outcome
  paxos get --from HOST    print the value HOST knows was chosen
                           (see \`paxos submit --help\`)
  paxos put KEY VALUE | get KEY | del KEY | cas KEY OLD NEW | dump --from HOST
                           use a replicated-log cluster's key-value store
                           (see \`paxos put --help\`); get --prefix P for a range
  paxos txn [--file FILE]  compares, then one list of puts, dels and gets or
                           another, in one slot (see \`paxos txn --help\`)
  paxos watch KEY | --prefix P
                           print the changes as they are applied
                           (see \`paxos watch --help\`)
  paxos lease grant TTL | keepalive ID [--once] | revoke ID | list
                           leases: keys put with one (put --lease ID) are
                           deleted when it expires or is revoked
                           (see \`paxos lease --help\`)
  paxos lock NAME [--ttl SECS] -- CMD [ARGS...]
                           run CMD holding lock NAME (see \`paxos lock --help\`)
  paxos elect NAME VALUE [--ttl SECS] | NAME --listen
                           campaign to lead NAME, or print its leader
                           (see \`paxos elect --help\`)
  paxos status             each replica's role, ballot, indexes and health
                           (see \`paxos status --help\`)
  paxos member list | add NAME=HOST:PORT | promote NAME | remove NAME
                           the cluster's members, changed through the log
                           (see \`paxos member --help\`)
  paxos lincheck HISTORY   check a client history for linearizability
  paxos check FILE...      check a run from its transcript
                           (see \`paxos check --help\`)
  paxos viz FILE... -o OUT.html|OUT.svg
                           draw a run as a message sequence chart
                           (see \`paxos viz --help\`)

Exit status: 0 after SIGTERM, SIGINT or --exit-after-idle; 2 on a usage or
hostsfile error; 1 on any other failure, such as an unreadable state file.`;

export function parsePeerArgs(
  argv: readonly string[],
  hostname = os.hostname(),
  env: NodeJS.ProcessEnv = process.env,
): PeerSettings | 'help' {
  const { values } = parseFlags(argv, {
    hostsfile: { type: 'string', short: 'h' },
    value: { type: 'string', short: 'v' },
    'start-after': { type: 'string', short: 't' },
    name: { type: 'string' },
    port: { type: 'string' },
    resolve: { type: 'string', multiple: true },
    'round-timeout': { type: 'string' },
    'peer-timeout': { type: 'string' },
    'data-dir': { type: 'string' },
    'replica-file': { type: 'string' },
    'secret-file': { type: 'string' },
    insecure: { type: 'boolean' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'client-ca': { type: 'string' },
    'exit-after-idle': { type: 'string' },
    'log-level': { type: 'string' },
    'exit-on-stdin-close': { type: 'boolean' },
    delay: { type: 'string', multiple: true },
    'rng-seed': { type: 'string' },
    'no-message-lines': { type: 'boolean' },
    'snapshot-every': { type: 'string' },
    'quota-bytes': { type: 'string' },
    metrics: { type: 'string' },
    join: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help === true) return 'help';

  const file = values.hostsfile;
  if (file === undefined) throw new ConfigError('missing -h FILE (the hostsfile); see paxos --help');
  const cluster = loadHostsfile(file);
  const name = values.name ?? hostname;
  const listed = cluster.byHost(name);
  if (values.join === true && cluster.mode !== 'log')
    throw new ConfigError(`--join is for replicas of a replicated log; ${file} is a single-decree lab hostsfile`);
  if (values.join === true && listed !== undefined)
    throw new ConfigError(
      `--join: ${name} is already in ${file}, so it is one of the first members; start it without --join ` +
        `(--join is for a member added later with paxos member add ${name}=HOST:PORT)`,
    );
  // A member added later (paxos member add) is in no hostsfile: its id comes from the cluster (daemon/join.ts).
  const self: HostEntry | undefined =
    values.join === true ? { id: 0, host: name, roles: [{ kind: 'replica', group: 0 }] } : listed;
  if (self === undefined) {
    const known = cluster.hosts.map((h) => h.host).join(', ');
    const which =
      values.name === undefined ? `this machine's hostname ${JSON.stringify(name)}` : `--name ${JSON.stringify(name)}`;
    throw new ConfigError(
      `hostsfile ${file} has no line for ${which}; it lists ${known} (pass --name HOST to choose, or --join for ` +
        `a replica added with paxos member add)`,
    );
  }

  const warnings = [...cluster.warnings];
  const value = values.value;
  const proposer = hasRole(self, 'proposer');
  if (cluster.mode === 'log') {
    if (value !== undefined)
      warnings.push(
        `-v ${JSON.stringify(value)} ignored: ${file} is a replicated-log hostsfile; write with npx paxos put ` +
          `KEY VALUE`,
      );
    if (values['start-after'] !== undefined) warnings.push(`-t ignored: ${file} is a replicated-log hostsfile`);
    if (values['exit-after-idle'] !== undefined)
      warnings.push('--exit-after-idle ignored: a replica is never idle (its leader sends heartbeats)');
  } else if (values['no-message-lines'] === true) {
    warnings.push('--no-message-lines applies to replicated-log clusters only; the lab prints every line');
  }
  if (values.metrics !== undefined && cluster.mode !== 'log')
    throw new ConfigError(
      `--metrics is for replicas of a replicated log (a hostsfile whose every line is HOST:replica); ${file} is ` +
        `a single-decree lab hostsfile, whose peers serve no metrics`,
    );
  const metrics = values.metrics === undefined ? undefined : listenAddress('--metrics', values.metrics);
  if (cluster.mode === 'log') {
    // -v and -t were warned about above.
  } else if (value !== undefined) {
    // As given, before the role warning: a bad -v is an error on any lab peer.
    checkProposal(value);
    if (!proposer) warnings.push(`-v ${JSON.stringify(value)} ignored: ${self.host} is not a proposer in ${file}`);
  } else if (proposer) {
    const roles = self.roles
      .filter((r) => r.kind === 'proposer')
      .map((r) => `proposer${r.group}`)
      .join(',');
    warnings.push(
      `${self.host} is ${roles} in ${file}:${self.id} but has no -v VALUE: it waits for a client (npx paxos ` +
        `submit VALUE --to ${self.host})`,
    );
  }

  const startDelayMs =
    values['start-after'] === undefined ? DEFAULTS.startDelayMs : seconds('-t', values['start-after']) * 1000;
  const roundTimeoutMs =
    values['round-timeout'] === undefined
      ? DEFAULTS.roundTimeoutMs
      : seconds('--round-timeout', values['round-timeout']) * 1000;
  const peerTimeoutMs =
    values['peer-timeout'] === undefined
      ? DEFAULTS.peerTimeoutMs
      : seconds('--peer-timeout', values['peer-timeout']) * 1000;
  const port = values.port === undefined ? DEFAULTS.port : portNumber('--port', values.port);
  const idleMs =
    values['exit-after-idle'] === undefined
      ? DEFAULTS.idleMs
      : seconds('--exit-after-idle', values['exit-after-idle']) * 1000;
  // 0 is the setting's "never", so a flag that says 0 is refused here.
  if (values['exit-after-idle'] !== undefined && idleMs === 0)
    throw new ConfigError('--exit-after-idle must be above 0');
  const dataDir = values['data-dir'] ?? path.join('paxos-data', self.host);

  const overrides = new Map<string, Address>();
  for (const spec of values.resolve ?? []) {
    const [host, endpoint] = parseResolve(spec, port);
    if (cluster.byHost(host) === undefined) warnings.push(`--resolve ${spec}: ${host} is not in ${file}`);
    overrides.set(host.toLowerCase(), endpoint);
  }

  const delays = (values.delay ?? []).map((spec) => parseDelay(spec, cluster, warnings));
  const secret = loadSecret(values['secret-file'], env, warnings);
  const tls = loadPeerTls(values);
  // `paxos run` says this once for all its peers (src/config/secret-notice.ts). With TLS, certificates authenticate.
  if (secret === null && tls === null && env[NO_SECRET_WARNING_ENV] !== '1') warnings.push(NO_SECRET_WARNING);
  const seedText = values['rng-seed'];
  if (seedText !== undefined && !/^\d{1,9}$/.test(seedText))
    throw new ConfigError(`--rng-seed expects an integer 0..999999999, got ${JSON.stringify(seedText)}`);

  const logLevel = values['log-level'] ?? DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  }

  const common = {
    cluster,
    self,
    listen: overrides.get(self.host.toLowerCase()) ?? { host: '0.0.0.0', port },
    endpointOf: (peer: HostEntry) => overrides.get(peer.host.toLowerCase()) ?? { host: peer.host, port },
    resolved: (host: string) => overrides.get(host.toLowerCase()),
    peerTimeoutMs,
    dataDir,
    secret,
    tls,
    logLevel: logLevel as LogLevel,
    exitOnStdinClose: values['exit-on-stdin-close'] === true,
    rngSeed: seedText === undefined ? undefined : Number(seedText),
    warnings,
  };
  const settings: PeerSettings =
    cluster.mode === 'log'
      ? {
          ...common,
          mode: 'log',
          replicaFile: values['replica-file'],
          messageLines: values['no-message-lines'] !== true,
          snapshotEvery:
            values['snapshot-every'] === undefined
              ? undefined
              : positiveInt('--snapshot-every', values['snapshot-every']),
          quotaBytes:
            values['quota-bytes'] === undefined
              ? DEFAULTS.quotaBytes
              : byteSize('--quota-bytes', values['quota-bytes']),
          tickMs: DEFAULTS.replicaTickMs,
          timing: DEFAULTS.replicaTiming,
          ...(metrics === undefined ? {} : { metrics }),
          ...(values.join === true ? { join: true } : {}),
        }
      : {
          ...common,
          mode: 'lab',
          value: proposer ? value : undefined,
          startDelayMs,
          roundTimeoutMs,
          tickMs: DEFAULTS.labTickMs,
          idleMs,
          replicaFile: values['replica-file'] ?? path.join(dataDir, 'value'),
          delays,
        };
  validate(settings);
  // Last, so a flag's own error comes first: a replica runs open only when told to.
  if (settings.mode === 'log' && secret === null && tls === null && values.insecure !== true)
    throw new ConfigError(
      `${self.host} is a replica (${file}) and has no shared secret: pass --secret-file FILE or set PAXOS_SECRET ` +
        `(or TLS: --ca, --cert and --key; or --insecure to run open, on a trusted network only)`,
    );
  return settings;
}

export async function runPeer(argv: readonly string[]): Promise<void> {
  const settings = parsePeerArgs(argv);
  if (settings === 'help') {
    process.stdout.write(`${PEER_HELP}\n`);
    return;
  }
  const log = stderrLogger(settings.self.host, settings.logLevel);
  for (const w of settings.warnings) log.warn(w);
  if (settings.mode === 'log') {
    await (await import('./replica-command.js')).runReplica(settings, log);
    return;
  }
  const peer = labPeer(settings, log, (line) => process.stdout.write(`${line}\n`));
  const { daemon } = peer;
  // Stopping also gives up the data directory; a second is plenty to close sockets.
  const shutdown = await supervise(
    { start: () => daemon.start(), stop: () => peer.stop(), on: (e, l) => daemon.on(e, l) },
    { log, listen: settings.listen, exitOnStdinClose: settings.exitOnStdinClose, graceMs: 1000 },
  );
  daemon.on('idle', () => shutdown(`idle for ${settings.idleMs / 1000} s`));
  for (const notice of peer.notices()) log.warn(notice);
}

function positiveInt(flag: string, text: string): number {
  const x = Number(text);
  if (!/^\d+$/.test(text) || x < 1 || !Number.isSafeInteger(x))
    throw new ConfigError(`${flag} expects a whole number >= 1, got ${JSON.stringify(text)}`);
  return x;
}

const DELAY_TYPES = ['prepare', 'accept', 'chose', 'prepare_ack', 'accept_ack', '*'] as const;

function parseDelay(spec: string, cluster: Cluster, warnings: string[]): DelayRule {
  const m = /^([a-z_*]+):([^=]+)=(\d+)$/.exec(spec);
  const type = m?.[1] as DelayRule['type'] | undefined;
  if (m === null || type === undefined || !DELAY_TYPES.includes(type)) {
    throw new ConfigError(
      `--delay expects TYPE:HOST=MS with TYPE one of ${DELAY_TYPES.join(', ')}, e.g. accept:peer3=1500; got ` +
        `${JSON.stringify(spec)}`,
    );
  }
  const host = m[2]!;
  if (host !== '*' && cluster.byHost(host) === undefined)
    warnings.push(`--delay ${spec}: ${host} is not in ${cluster.file}`);
  return { type, host, ms: Number(m[3]) };
}
