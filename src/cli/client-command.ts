// `paxos submit VALUE --to HOST` and `paxos get --from HOST`: using the
// cluster from outside. Peers are found through the hostsfile (and
// --resolve, as for peers); the answer goes to stdout, human or --json.

import { ConfigError } from '../config/errors.js';
import { loadHostsfile } from '../config/hostsfile.js';
import { DEFAULT_PORT, MAX_VALUE_BYTES } from '../paxos/defaults.js';
import { request, type Outcome } from '../client/lab.js';
import { callSettings, CLIENT_FLAGS, endpointList, endpointsFrom, readValue, unresolvable } from './client-flags.js';
import type { Endpoint } from '../transport/link.js';
import { parseFlags } from '../config/flags.js';

/** Exit statuses, so scripts can tell a definite answer from an unknown one. */
export const EXIT = { ok: 0, lost: 1, usage: 2, notChosen: 3, unknown: 4, refused: 5 } as const;

export const CLIENT_HELP = `Usage: paxos submit VALUE --to HOST [options]
       paxos submit --value-file FILE --to HOST [options]
       paxos get --from HOST [options]

submit asks proposer HOST to propose VALUE and waits for the outcome. It
prints the value that was chosen, which may not be VALUE: if another value
was chosen first, that one stands, and submit says so.
get prints the value HOST knows was chosen, or says nothing is chosen yet
(as far as HOST knows).

      --endpoints HOST=ADDR[:PORT],...
                         the peers and where to reach them, no hostsfile
                         needed; HOST must be one of them (or PAXOS_ENDPOINTS,
                         same syntax). Where the peers are: --endpoints, else
                         PAXOS_ENDPOINTS, else -h and --resolve
  -h, --hostsfile FILE   the cluster's hostsfile (default ./hostsfile)
      --value-file FILE  submit the contents of FILE (- for standard input),
                         byte for byte: for values too long or too odd for
                         the command line. Values are 1..${MAX_VALUE_BYTES} bytes of UTF-8.
      --port N           the peers' port (default ${DEFAULT_PORT})
      --resolve HOST=ADDR[:PORT]
                         reach HOST at ADDR (repeatable; \`paxos run\` prints these)
      --timeout SECS     how long to wait for the answer (default 10)
      --secret-file FILE the cluster's shared secret (or PAXOS_SECRET)
      --ca FILE, --cert FILE, --key FILE
                         TLS, for peers started with --ca, --cert and --key
                         (or PAXOS_CA, PAXOS_CERT, PAXOS_KEY); see paxos put
                         --help
      --json             print one JSON object instead of a sentence
      --help             show this help

Exit status:
  0  submit: VALUE was chosen; get: a value is chosen (printed)
  1  submit: another value was chosen (printed); VALUE never will be
  2  usage error
  3  get: nothing is chosen yet, as far as HOST knows
  4  outcome unknown: the request was sent but no answer came in time;
     VALUE may or may not be chosen later (ask again with get)
  5  refused or unreachable: nothing was done (HOST is not a proposer, is
     down, or failed authentication); submit lists the proposers to try`;

export async function clientCommand(verb: 'submit' | 'get', argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, CLIENT_FLAGS, true);
  if (values.help === true) {
    process.stdout.write(`${CLIENT_HELP}\n`);
    return EXIT.ok;
  }
  const target = verb === 'submit' ? values.to : values.from;
  if (target === undefined)
    throw new ConfigError(`${verb} needs ${verb === 'submit' ? '--to' : '--from'} HOST; see paxos ${verb} --help`);
  let value: string | undefined;
  if (verb === 'submit') {
    const file = values['value-file'];
    if (file !== undefined) {
      if (positionals.length > 0) throw new ConfigError('submit takes a VALUE or --value-file, not both');
      value = readValue(file);
    } else if (positionals.length !== 1) {
      throw new ConfigError('submit expects exactly one VALUE (quote it if it has spaces), or --value-file FILE');
    } else {
      value = positionals[0]!;
    }
    if (value === '') throw new ConfigError('submit: the value must not be empty');
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_VALUE_BYTES)
      throw new ConfigError(
        `submit: the value is ${bytes} bytes; values are at most ${MAX_VALUE_BYTES} bytes of UTF-8`,
      );
  } else if (positionals.length > 0) {
    throw new ConfigError(`get takes no VALUE (got ${JSON.stringify(positionals[0])})`);
  }
  // Where HOST is: --endpoints, else PAXOS_ENDPOINTS, else the hostsfile and --resolve.
  const given = endpointList(verb, values);
  let peer: { name: string; at: Endpoint };
  if (given !== undefined) {
    const found = given.endpoints.find(([name]) => name.toLowerCase() === target.toLowerCase());
    if (found === undefined)
      throw new ConfigError(
        `${target} is not in ${given.source}; it lists ${given.endpoints.map(([name]) => name).join(', ')}`,
      );
    peer = { name: found[0], at: found[1] };
  } else {
    const cluster = loadHostsfile(values.hostsfile ?? 'hostsfile');
    const host = cluster.byHost(target);
    if (host === undefined)
      throw new ConfigError(
        `${target} is not in ${cluster.file}; it lists ${cluster.hosts.map((h) => h.host).join(', ')}`,
      );
    peer = { name: host.host, at: endpointsFrom(values)(host.host) };
  }
  const { timeoutMs, secret, tls } = callSettings(verb, values);

  // A name that resolves nowhere fails now, with the flag that would fix it.
  const unresolved = await unresolvable([peer], given?.source);
  const outcome: Outcome =
    unresolved !== undefined
      ? { kind: 'unreachable', why: unresolved }
      : await request(
          peer.at,
          value === undefined ? { type: 'get' } : { type: 'submit', value },
          secret,
          timeoutMs,
          tls && { tls, name: peer.name },
        );
  const { code, text, json } = describe(verb, peer.name, value, outcome);
  process.stdout.write(values.json === true ? `${JSON.stringify(json)}\n` : `${text}\n`);
  return code;
}

function describe(
  verb: 'submit' | 'get',
  peer: string,
  submitted: string | undefined,
  o: Outcome,
): { code: number; text: string; json: object } {
  const show = (v: string): string => JSON.stringify(v);
  if (o.kind === 'unreachable') {
    return {
      code: EXIT.refused,
      text: `refused: cannot reach ${peer}: ${o.why}; nothing was done`,
      json: { status: 'unreachable', peer, why: o.why },
    };
  }
  if (o.kind === 'unknown') {
    return {
      code: EXIT.unknown,
      text:
        `outcome unknown: ${o.why}. ` +
        (verb === 'submit'
          ? `${show(submitted!)} may or may not be chosen; ask with npx paxos get --from ${peer}`
          : 'ask again'),
      json: { status: 'unknown', peer, why: o.why },
    };
  }
  const r = o.result;
  switch (r.status) {
    case 'chosen': {
      const mine = submitted === undefined || r.value === submitted;
      const json = {
        status: 'chosen',
        peer,
        value: r.value,
        proposal: r.n,
        ...(submitted === undefined ? {} : { submitted, yours: mine }),
      };
      if (verb === 'get') return { code: EXIT.ok, text: r.value, json };
      return mine
        ? { code: EXIT.ok, text: `chosen: ${show(r.value)} (proposal ${r.n})`, json }
        : {
            code: EXIT.lost,
            text:
              `chosen: ${show(r.value)} (proposal ${r.n}), not your ${show(submitted!)}: another value was ` +
              `chosen first`,
            json,
          };
    }
    case 'not_chosen':
      return {
        code: EXIT.notChosen,
        text: `nothing chosen yet, as far as ${peer} knows`,
        json: { status: 'not_chosen', peer },
      };
    case 'not_proposer':
      return {
        code: EXIT.refused,
        text:
          `refused: ${peer} is not a proposer; submit to ` +
          `one of: ${r.proposers.join(', ') || '(none in the hostsfile)'}`,
        json: { status: 'not_proposer', peer, proposers: r.proposers },
      };
    case 'invalid':
      return {
        code: EXIT.refused,
        text: `refused: ${peer} says the request is invalid: ${r.why}`,
        json: { status: 'invalid', peer, why: r.why },
      };
  }
}
