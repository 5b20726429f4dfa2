// The hostsfile: one `hostname:role[,role...]` per line; a peer's id is its
// 1-based line number. Lab roles are proposerK, acceptorK and learnerK; a
// file whose every line is `hostname:replica` describes a replicated-log
// (Multi-Paxos) cluster instead, so no lab hostsfile changes meaning. Every problem is reported as FILE:LINE: what, and
// how
// to fix it, so a user can correct the file without reading this code.

import { readFileSync } from 'node:fs';
import type { PeerId } from '../paxos/ids.js';
import { hasRole, type Cluster, type HostEntry, type Role, type RoleKind } from '../paxos/cluster.js';
import { ConfigError } from './errors.js';

export { hasRole, type Cluster, type HostEntry, type Role, type RoleKind };

const ROLE_RE = /^(proposer|acceptor|learner)([1-9][0-9]{0,8})$/;
// Dot-separated labels of letters, digits, '_' and inner '-' (compose
// service names may hold '_'). Hostnames compare case-insensitively, as DNS does.
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?';
const HOST_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const FORMAT =
  'each line must be hostname:role[,role...] with roles proposerK, acceptorK or learnerK (K = group number >= 1), ' +
  'or hostname:replica for a replicated-log cluster';

export function loadHostsfile(file: string): Cluster {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(code ?? err);
    throw new ConfigError(`hostsfile ${file}: cannot read it (${why}); check the -h path`);
  }
  return parseHostsfile(text, file);
}

export function parseHostsfile(text: string, file: string): Cluster {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw new ConfigError(`hostsfile ${file} is empty; ${FORMAT}`);

  const hosts: HostEntry[] = [];
  const hostLine = new Map<string, number>();
  const proposerLine = new Map<number, { host: string; line: number }>();

  lines.forEach((raw, i) => {
    const line = i + 1;
    const at = `${file}:${line}`;
    const text = raw.trim();
    if (text === '')
      throw new ConfigError(`${at}: empty line; peer ids are line numbers, so a hostsfile cannot skip lines`);
    const colon = text.indexOf(':');
    if (colon < 0) throw new ConfigError(`${at}: expected hostname:role[,role...], got ${JSON.stringify(text)}`);
    const host = text.slice(0, colon).trim();
    if (host === '') throw new ConfigError(`${at}: missing hostname before ':'`);
    if (!HOST_RE.test(host)) {
      throw new ConfigError(
        `${at}: ${JSON.stringify(host)} is not a valid hostname (dot-separated labels of letters, digits, '_' and '-')`,
      );
    }
    const prev = hostLine.get(host.toLowerCase());
    if (prev !== undefined)
      throw new ConfigError(`${at}: host ${host} is already on line ${prev}; each host must appear once`);
    hostLine.set(host.toLowerCase(), line);

    const list = text.slice(colon + 1).trim();
    if (list === '') throw new ConfigError(`${at}: ${host} has no roles; list at least one, e.g. ${host}:acceptor1`);
    const roles: Role[] = [];
    if (list === 'replica') {
      hosts.push({ id: line, host, roles: [{ kind: 'replica', group: 0 }] });
      return;
    }
    for (const token of list.split(',').map((t) => t.trim())) {
      if (token === 'replica') {
        throw new ConfigError(
          `${at}: ${host} mixes replica with other roles; in a replicated-log cluster every line is just ` +
            `hostname:replica`,
        );
      }
      if (token === '')
        throw new ConfigError(`${at}: empty role in ${JSON.stringify(list)}; separate roles with single commas`);
      const m = ROLE_RE.exec(token);
      if (m === null) throw new ConfigError(`${at}: unknown role ${JSON.stringify(token)}; ${FORMAT}`);
      const role: Role = { kind: m[1] as RoleKind, group: Number(m[2]) };
      if (roles.some((r) => r.kind === role.kind && r.group === role.group)) {
        throw new ConfigError(`${at}: role ${token} is listed twice for ${host}`);
      }
      if (role.kind === 'proposer') {
        const owner = proposerLine.get(role.group);
        if (owner !== undefined) {
          throw new ConfigError(
            `${at}: ${token} is already claimed by ${owner.host} on line ${owner.line}; each group has at most ` +
              `one proposer`,
          );
        }
        proposerLine.set(role.group, { host, line });
      }
      roles.push(role);
    }
    hosts.push({ id: line, host, roles });
  });

  const replicaLines = hosts.filter((h) => hasRole(h, 'replica'));
  if (replicaLines.length > 0 && replicaLines.length < hosts.length) {
    const lab = hosts.find((h) => !hasRole(h, 'replica'))!;
    throw new ConfigError(
      `${file}:${lab.id}: ${lab.host} has lab roles, but line ${replicaLines[0]!.id} makes this a replicated-log ` +
        `hostsfile; give every host the single role replica, or none`,
    );
  }
  const mode = replicaLines.length > 0 ? 'log' : 'lab';

  const members = (kind: RoleKind, group: number): PeerId[] =>
    hosts.filter((h) => hasRole(h, kind, group)).map((h) => h.id);

  for (const [group, { host, line }] of proposerLine) {
    if (members('acceptor', group).length === 0) {
      throw new ConfigError(
        `${file}:${line}: proposer${group} (${host}) has no acceptors; give some hosts the role acceptor${group}`,
      );
    }
  }

  const warnings: string[] = [];
  const groups = new Set(hosts.flatMap((h) => h.roles.map((r) => r.group)));
  for (const g of [...groups].sort((a, b) => a - b)) {
    if (!proposerLine.has(g) && members('learner', g).length > 0) {
      warnings.push(`${file}: group ${g} has learners but no proposer${g}, so they will never learn a value`);
    }
  }

  const stride = Math.max(1, ...proposerLine.keys());
  const byHost = new Map(hosts.map((h) => [h.host.toLowerCase(), h]));
  return {
    file,
    hosts,
    mode,
    replicas: mode === 'log' ? hosts.map((h) => h.id) : [],
    stride,
    warnings,
    byHost: (host) => byHost.get(host.toLowerCase()),
    byId: (id) => hosts[id - 1],
    proposerOf: (group) => {
      const p = proposerLine.get(group);
      return p === undefined ? undefined : byHost.get(p.host.toLowerCase());
    },
    acceptorsOf: (group) => members('acceptor', group),
    learnersOf: (group) => members('learner', group),
  };
}
