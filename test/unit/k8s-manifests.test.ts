// The Kubernetes deployment (deploy/k8s/, docs/kubernetes.md), checked
// offline: every YAML document there is valid against the Kubernetes API
// schemas (kubernetes-models, which holds the OpenAPI schemas as compiled
// validators), and agrees with the code: the peer port, the --metrics port
// and the probes' paths, the flags the peer's help documents (and its own
// argument parser accepts), the hostsfile as the project parses it against
// the StatefulSet's pod names, and the labels the Services and the
// PodDisruptionBudget select. The last tests break manifests on purpose, to
// show that each check can fail.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PEER_HELP, parsePeerArgs } from '../../src/cli/peer-command.js';
import { parseHostsfile } from '../../src/config/hostsfile.js';
import { DEFAULT_PORT } from '../../src/paxos/defaults.js';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const DIR = path.join(ROOT, 'deploy', 'k8s');

// ---------------------------------------------------------------- loading

// A manifest is plain JSON-like data; these are the few shapes the checks read.
/* eslint-disable @typescript-eslint/no-explicit-any -- YAML documents are untyped data, read field by field */
type Doc = Record<string, any>;

interface Manifest {
  readonly file: string;
  readonly doc: Doc;
}

/** Every .yaml/.yml file under `dir`, relative to it, sorted. */
function yamlFiles(dir: string, under = ''): string[] {
  return readdirSync(path.join(dir, under), { withFileTypes: true })
    .flatMap((e) => {
      const rel = under === '' ? e.name : `${under}/${e.name}`;
      if (e.isDirectory()) return yamlFiles(dir, rel);
      return /\.ya?ml$/.test(e.name) ? [rel] : [];
    })
    .sort();
}

function load(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of yamlFiles(DIR)) {
    for (const d of parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      const doc = d.toJS() as Doc | null;
      if (doc !== null) out.push({ file, doc });
    }
  }
  return out;
}

const MANIFESTS = load();

/** The model class for each apiVersion/kind deploy/k8s uses; another kind fails the test until it is added here. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Validates one document against its schema: the schema's complaint, or undefined. */
function schemaError(doc: Doc): string | undefined {
  const key = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  const Model = MODELS[key];
  if (Model === undefined) return `no model for ${key}: add its kubernetes-models class to MODELS`;
  try {
    const m = new Model(doc);
    if ((m as Doc).apiVersion !== doc.apiVersion || (m as Doc).kind !== doc.kind) return `${key}: model mismatch`;
    m.validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const isKustomization = (d: Doc): boolean => d.kind === 'Kustomization';
const ofKind = (docs: readonly Doc[], kind: string): Doc[] => docs.filter((d) => d.kind === kind);

// ---------------------------------------------------------------- agreement

/** Expands Kubernetes's $(VAR) references in an argument, from the container's env and the pod's name. */
function expand(arg: string, container: Doc, podName: string): string {
  return arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => {
    const e = (container.env ?? []).find((v: Doc) => v.name === name);
    if (e === undefined) return all;
    if (e.value !== undefined) return String(e.value);
    return e.valueFrom?.fieldRef?.fieldPath === 'metadata.name' ? podName : all;
  });
}

/** The values of a flag in an argument list (`--flag VALUE` or `--flag=VALUE`; `-h` for --hostsfile too). */
function flagValues(args: readonly string[], ...names: string[]): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    for (const n of names) {
      if (a === n && i + 1 < args.length) out.push(args[i + 1]!);
      else if (a.startsWith(`${n}=`)) out.push(a.slice(n.length + 1));
    }
  });
  return out;
}

/** The port a probe or Service target names: a number, or a container port's name; undefined if neither. */
function resolvePort(port: unknown, container: Doc): number | undefined {
  if (typeof port === 'number') return port;
  const named = (container.ports ?? []).find((p: Doc) => p.name === port);
  return named === undefined ? undefined : Number(named.containerPort);
}

const matches = (selector: Doc | undefined, labels: Doc | undefined): boolean =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The one container of a StatefulSet's pod. */
const containerOf = (sts: Doc): Doc => sts.spec?.template?.spec?.containers?.[0] ?? {};

/**
 * Where the manifests and the code disagree, one line each (empty: they agree). `docs` are the documents of
 * deploy/k8s, without the kustomization.
 */
export function disagreements(docs: readonly Doc[]): string[] {
  const bad: string[] = [];
  const say = (s: string): void => void bad.push(s);
  const [configMap] = ofKind(docs, 'ConfigMap');
  const services = ofKind(docs, 'Service');
  const headless = services.find((s) => s.spec?.clusterIP === 'None');
  const sets = ofKind(docs, 'StatefulSet');
  const initial = sets.find((s) => !(containerOf(s).args ?? []).includes('--join'));
  const joined = sets.find((s) => (containerOf(s).args ?? []).includes('--join'));
  const [pdb] = ofKind(docs, 'PodDisruptionBudget');
  if (configMap === undefined || headless === undefined || initial === undefined || pdb === undefined) {
    say('expected a ConfigMap, a headless Service, a StatefulSet without --join and a PodDisruptionBudget');
    return bad;
  }

  // The headless Service names the pods, before they are ready (no leader until they reach each other).
  if (headless.spec.publishNotReadyAddresses !== true)
    say(`Service ${headless.metadata.name}: publishNotReadyAddresses must be true`);
  const headlessPeer = (headless.spec.ports ?? []).find((p: Doc) => p.name === 'peer');
  if (headlessPeer?.port !== DEFAULT_PORT)
    say(`Service ${headless.metadata.name}: needs a port named peer = ${DEFAULT_PORT}, has ${headlessPeer?.port}`);

  for (const sts of sets) {
    const name = String(sts.metadata?.name);
    const c = containerOf(sts);
    const args: string[] = (c.args ?? []).map(String);
    const labels = sts.spec?.template?.metadata?.labels;
    if (sts.spec?.serviceName !== headless.metadata.name)
      say(`StatefulSet ${name}: serviceName must be the headless Service ${headless.metadata.name}`);
    if (sts.spec?.podManagementPolicy !== 'Parallel') say(`StatefulSet ${name}: podManagementPolicy must be Parallel`);
    if (!matches(sts.spec?.selector?.matchLabels, labels))
      say(`StatefulSet ${name}: its selector does not match its pods' labels`);
    const sc = sts.spec?.template?.spec?.securityContext ?? {};
    if (sc.runAsUser !== 1000 || sc.runAsNonRoot !== true) say(`StatefulSet ${name}: must run as uid 1000, non-root`);
    if (c.command !== undefined) say(`StatefulSet ${name}: no command: (the image's ENTRYPOINT is the peer)`);

    // The peer port: --port, else the code's default, is the container port named peer.
    const port = Number(flagValues(args, '--port')[0] ?? DEFAULT_PORT);
    const peerPort = resolvePort('peer', c);
    if (port !== DEFAULT_PORT || peerPort !== DEFAULT_PORT)
      say(`StatefulSet ${name}: the peer listens on ${port}, the container port peer is ${peerPort}`);
    for (const s of services) {
      for (const p of s.spec?.ports ?? []) {
        const target = resolvePort(p.targetPort ?? p.port, c);
        if (target !== DEFAULT_PORT) say(`Service ${s.metadata.name}: port ${p.name} targets ${target}`);
      }
      if (!matches(s.spec?.selector, labels)) say(`Service ${s.metadata.name}: does not select ${name}'s pods`);
    }
    if (!matches(pdb.spec?.selector?.matchLabels, labels))
      say(`PodDisruptionBudget ${pdb.metadata.name}: does not select ${name}'s pods`);

    // --metrics ADDR:PORT, and the probes on that port.
    const metrics = flagValues(args, '--metrics')[0];
    const metricsPort = metrics === undefined ? undefined : Number(/:(\d+)$/.exec(metrics)?.[1]);
    if (metricsPort === undefined || !(metricsPort > 0)) say(`StatefulSet ${name}: --metrics ADDR:PORT is missing`);
    const probes: Array<[string, string]> = [
      ['startupProbe', '/healthz'],
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/readyz'],
    ];
    for (const [probe, want] of probes) {
      const get = c[probe]?.httpGet;
      if (get === undefined) {
        if (probe !== 'startupProbe') say(`StatefulSet ${name}: no ${probe}.httpGet`);
        continue;
      }
      if (get.path !== want) say(`StatefulSet ${name}: ${probe} path ${get.path}, not ${want}`);
      const at = resolvePort(get.port, c);
      if (at !== metricsPort)
        say(`StatefulSet ${name}: ${probe} port ${JSON.stringify(get.port)} is ${at}, not --metrics's ${metricsPort}`);
    }

    // Every flag is one the peer's help documents.
    for (const a of args) {
      const flag = /^--?[a-z][a-z0-9-]*/.exec(a)?.[0];
      if (flag === undefined) continue;
      const documented = new RegExp(`(?<![\\w-])${flag}(?![\\w-])`).test(PEER_HELP);
      if (!documented) say(`StatefulSet ${name}: ${flag} is not in the peer's help (PEER_HELP)`);
    }

    // The secret comes from a Secret, never a literal.
    const secretEnv = (c.env ?? []).find((e: Doc) => e.name === 'PAXOS_SECRET');
    if (secretEnv?.valueFrom?.secretKeyRef?.name === undefined || secretEnv.value !== undefined)
      say(`StatefulSet ${name}: PAXOS_SECRET must come from a Secret (valueFrom.secretKeyRef)`);

    // The data directory is on the claim's volume; the hostsfile is the ConfigMap's key, where it is mounted.
    const mounts: Doc[] = c.volumeMounts ?? [];
    const under = (file: string, volume: string): boolean =>
      mounts.some((m) => m.name === volume && file.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`));
    const claims = (sts.spec?.volumeClaimTemplates ?? []).map((v: Doc) => v.metadata?.name);
    const dataDir = flagValues(args, '--data-dir')[0] ?? '';
    if (!claims.some((v: string) => under(dataDir, v)))
      say(`StatefulSet ${name}: --data-dir ${dataDir} is not on a volumeClaimTemplate's volume`);
    const hostsfile = flagValues(args, '-h', '--hostsfile')[0] ?? '';
    const cmVolume = (sts.spec?.template?.spec?.volumes ?? []).find(
      (v: Doc) => v.configMap?.name === configMap.metadata.name,
    );
    const key = path.posix.basename(hostsfile);
    if (cmVolume === undefined || !under(hostsfile, cmVolume.name) || configMap.data?.[key] === undefined)
      say(`StatefulSet ${name}: -h ${hostsfile} is not the ConfigMap ${configMap.metadata.name}'s key, mounted`);
  }

  // The hostsfile: the project's parser, replica mode, and exactly the initial StatefulSet's pods' DNS names.
  const text = String(Object.values(configMap.data ?? {})[0] ?? '');
  let hosts: string[] = [];
  try {
    const cluster = parseHostsfile(text, 'the ConfigMap');
    if (cluster.mode !== 'log') say(`the ConfigMap's hostsfile is not a replica (log) hostsfile`);
    hosts = cluster.hosts.map((h) => h.host);
  } catch (err) {
    say(`the ConfigMap's hostsfile does not parse: ${(err as Error).message}`);
  }
  const podNames = (sts: Doc): string[] =>
    Array.from({ length: Number(sts.spec?.replicas ?? 1) }, (_, i) => `${sts.metadata.name}-${i}`);
  const initialNames = podNames(initial).map((p) =>
    expand(flagValues(containerOf(initial).args, '--name')[0]!, containerOf(initial), p),
  );
  const dns = podNames(initial).map((p) => `${p}.${headless.metadata.name}`);
  if (JSON.stringify(hosts) !== JSON.stringify(dns))
    say(`the hostsfile lists ${hosts.join(', ')}; the StatefulSet's pods are ${dns.join(', ')}`);
  if (JSON.stringify(initialNames) !== JSON.stringify(dns))
    say(`the pods pass --name ${initialNames.join(', ')}, not their DNS names ${dns.join(', ')}`);

  // Joined members: the same pod plus --join, and names that are not in the hostsfile.
  if (joined !== undefined) {
    const a = JSON.stringify([...(containerOf(initial).args ?? []), '--join']);
    if (JSON.stringify(containerOf(joined).args) !== a)
      say(`StatefulSet ${joined.metadata.name}: its args must be ${initial.metadata.name}'s plus --join`);
    if (matches(joined.spec?.selector?.matchLabels, initial.spec?.template?.metadata?.labels))
      say(`the two StatefulSets' selectors overlap`);
    if (hosts.some((h) => h.startsWith(`${joined.metadata.name}-`)))
      say(`the hostsfile lists a member of ${joined.metadata.name}`);
  }
  return bad;
}

// ---------------------------------------------------------------- tests

const docs = MANIFESTS.map((m) => m.doc).filter((d) => !isKustomization(d));
const clone = (): Doc[] => structuredClone(docs);
/** The StatefulSet of the hostsfile's members (the one without --join). */
const initialSet = (d: readonly Doc[]): Doc =>
  ofKind(d, 'StatefulSet').find((s) => !(containerOf(s).args ?? []).includes('--join'))!;

test('every YAML file under deploy/k8s parses, and kustomization.yaml lists each of the others', (t) => {
  const files = yamlFiles(DIR);
  t.true(files.includes('kustomization.yaml'));
  const kustomization = MANIFESTS.find((m) => isKustomization(m.doc));
  t.truthy(kustomization);
  t.deepEqual(
    [...(kustomization!.doc.resources as string[])].sort(),
    files.filter((f) => f !== 'kustomization.yaml'),
  );
  t.true(docs.length >= 6, `only ${docs.length} documents`);
});

test('every document is valid against the Kubernetes schemas (kubernetes-models)', (t) => {
  for (const m of MANIFESTS) {
    if (isKustomization(m.doc)) continue;
    t.is(schemaError(m.doc), undefined, `${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`);
  }
});

test('no Secret is committed', (t) => {
  t.deepEqual(
    MANIFESTS.filter((m) => m.doc.kind === 'Secret').map((m) => m.file),
    [],
  );
});

test('the manifests agree with the code: port, --metrics and probes, flags, hostsfile, labels', (t) => {
  t.deepEqual(disagreements(docs), []);
});

test("the peer's own argument parser takes each pod's args, and each finds itself in the hostsfile", (t) => {
  const dir = tempDir('k8s');
  const [configMap] = ofKind(docs, 'ConfigMap');
  const hostsfile = path.join(dir, 'hostsfile');
  writeFileSync(hostsfile, String(configMap!.data.hostsfile));
  const env = { PAXOS_SECRET: 'a test secret, 32 bytes or more, not a real one' };
  const joinKnown = /(?<![\w-])--join(?![\w-])/.test(PEER_HELP);
  let parsed = 0;
  for (const sts of ofKind(docs, 'StatefulSet')) {
    const c = containerOf(sts);
    const args: string[] = c.args.map(String);
    if (args.includes('--join') && !joinKnown) {
      t.log(`${sts.metadata.name}: --join is not in the peer's help yet (the membership work); its args not parsed`);
      continue;
    }
    if (args.includes('--join')) {
      // A member to be: its name is in no hostsfile, so only that its args parse is checked.
      const argv = args.map((a) => expand(a, c, `${sts.metadata.name}-0`));
      argv[argv.indexOf('-h') + 1] = hostsfile;
      t.notThrows(() => parsePeerArgs(argv, 'not-the-pod', env), sts.metadata.name);
      continue;
    }
    for (let i = 0; i < sts.spec.replicas; i += 1) {
      const pod = `${sts.metadata.name}-${i}`;
      const argv = args.map((a) => expand(a, c, pod));
      argv[argv.indexOf('-h') + 1] = hostsfile;
      const s = parsePeerArgs(argv, 'not-the-pod', env);
      if (s === 'help') return t.fail('help');
      t.is(s.mode, 'log');
      t.is(s.self.host, `${pod}.${sts.spec.serviceName}`);
      t.is(s.listen.port, DEFAULT_PORT);
      t.is(s.mode === 'log' ? s.metrics?.port : undefined, 9090);
      t.not(s.secret, null);
      parsed += 1;
    }
  }
  t.is(parsed, 3);
});

// ---------------------------------------------------------------- the checks can fail

test('the schema validator validates: broken manifests fail', (t) => {
  const sts = (): Doc => structuredClone(initialSet(docs));
  const broken: Array<[string, (d: Doc) => void, RegExp]> = [
    ['replicas as a string', (d) => (d.spec.replicas = 'three'), /replicas must be integer/],
    ['no selector', (d) => delete d.spec.selector, /required property 'selector'|required property selector/],
    ['a container with no name', (d) => delete d.spec.template.spec.containers[0].name, /required property/],
    [
      'a probe port that is neither a number nor a name',
      (d) => (d.spec.template.spec.containers[0].livenessProbe.httpGet.port = true),
      /port must be/,
    ],
    [
      'a container port as text',
      (d) => (d.spec.template.spec.containers[0].ports[0].containerPort = '8080'),
      /integer/,
    ],
  ];
  for (const [what, breakIt, why] of broken) {
    const d = sts();
    breakIt(d);
    t.regex(schemaError(d) ?? 'valid', why, what);
  }
  const svc = structuredClone(ofKind(docs, 'Service')[0]!);
  svc.spec.ports[0].port = 'abc';
  t.regex(schemaError(svc) ?? 'valid', /port must be integer/);
  t.regex(schemaError({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }) ?? '', /no model for v1\/Pod/);
});

test('the agreement checks fail on manifests that disagree with the code', (t) => {
  // A probe port "abc" is valid to the schema (an IntOrString may name a port), but names no container port.
  const cases: Array<[string, (d: Doc[]) => void, RegExp]> = [
    [
      'a probe port "abc"',
      (d) => (containerOf(initialSet(d)).readinessProbe.httpGet.port = 'abc'),
      /readinessProbe port "abc" is undefined/,
    ],
    [
      'a liveness probe on /readyz',
      (d) => (containerOf(initialSet(d)).livenessProbe.httpGet.path = '/readyz'),
      /livenessProbe path \/readyz, not \/healthz/,
    ],
    [
      'the peer port 9999',
      (d) => (containerOf(initialSet(d)).ports[0].containerPort = 9999),
      /container port peer is 9999/,
    ],
    [
      'a flag the peer does not have',
      (d) => containerOf(initialSet(d)).args.push('--verbose'),
      /--verbose is not in the peer's help/,
    ],
    ['a fourth replica', (d) => (initialSet(d).spec.replicas = 4), /the hostsfile lists/],
    [
      'a hostsfile with a lab role',
      (d) => (ofKind(d, 'ConfigMap')[0]!.data.hostsfile = 'paxos-0.paxos:proposer1\n'),
      /not a replica \(log\) hostsfile|does not parse/,
    ],
    [
      'a PDB selecting other pods',
      (d) => (ofKind(d, 'PodDisruptionBudget')[0]!.spec.selector.matchLabels = { app: 'other' }),
      /PodDisruptionBudget paxos: does not select/,
    ],
    [
      'a literal secret',
      (d) => {
        const env = containerOf(initialSet(d)).env.find((e: Doc) => e.name === 'PAXOS_SECRET');
        delete env.valueFrom;
        env.value = 'hunter2';
      },
      /PAXOS_SECRET must come from a Secret/,
    ],
    [
      'names not resolvable',
      (d) => (ofKind(d, 'Service').find((s) => s.spec.clusterIP === 'None')!.spec.publishNotReadyAddresses = false),
      /publishNotReadyAddresses must be true/,
    ],
  ];
  for (const [what, breakIt, why] of cases) {
    const d = clone();
    breakIt(d);
    const bad = disagreements(d);
    t.true(
      bad.some((b) => why.test(b)),
      `${what}: expected ${String(why)}, got ${JSON.stringify(bad)}`,
    );
  }
});
