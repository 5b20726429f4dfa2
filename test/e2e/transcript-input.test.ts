// What `paxos check` and `paxos viz` read: container names mapped to the
// hostsfile's hosts (through the testcase's compose file, else by name), the
// hostsfile they used and why (on stderr), an input with no peer lines
// refused, and charts titled after their testcase.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { paxosSync, ROOT as root } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { hostOfLabel } from '../../src/transcript/read.js';
import { titleOf } from '../../src/cli/transcript-input.js';

const KV3_RUN = path.join(root, 'test/fixtures/transcripts/kv3-run.txt');
const paxos = (args: readonly string[], cwd = root) => paxosSync(args, { timeoutMs: 60_000, cwd });
const testcases = readdirSync(path.join(root, 'testcases')).sort();

test('a kv3 transcript, labelled kv3-peer1 as compose labels it, is checked and drawn', (t) => {
  const hostsfile = path.join(root, 'testcases/kv3/hostsfile');
  const c = paxos(['check', KV3_RUN, '--hostsfile', hostsfile]);
  t.is(c.code, 0, c.out + c.err);
  t.regex(c.out, /check: ok: log mode: 3 replicas, 20 lines; 1 slots chosen/);
  const svg = path.join(tempDir('tin'), 'kv3.svg');
  const v = paxos(['viz', KV3_RUN, '--hostsfile', hostsfile, '-o', svg]);
  t.is(v.code, 0, v.err);
  t.regex(v.out, /3 lanes, 10 messages, 3 chose markers/);
  t.regex(readFileSync(svg, 'utf8'), /kv3-peer3/);
});

test("every testcase: a merged transcript labelled with its containers' names is checked and drawn", (t) => {
  // Goldens become `docker compose up` output: each line led by the name
  // compose gives the container (container_name, else PROJECT-SERVICE-1).
  // kv3 and kv5 have no goldens; the kv3 fixture stands in for both.
  const kvLines = readFileSync(KV3_RUN, 'utf8');
  let covered = 0;
  for (const tc of testcases) {
    const dir = path.join(root, 'testcases', tc);
    const compose = parseYaml(readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { hostname?: string; container_name?: string }>;
    };
    const labelOf = new Map(
      Object.entries(compose.services).map(([name, s]) => [s.hostname ?? name, s.container_name ?? `${tc}-${name}-1`]),
    );
    let text: string;
    if (existsSync(path.join(dir, 'expected'))) {
      const files = readdirSync(path.join(dir, 'expected')).sort();
      text = files
        .flatMap((f) =>
          readFileSync(path.join(dir, 'expected', f), 'utf8')
            .trim()
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => `${labelOf.get(f.replace(/\.log$/, ''))!} | ${l}`),
        )
        .join('\n');
    } else if (tc === 'kv3' || tc === 'kv5') {
      text = kvLines.replace(/^kv3-peer(\d)/gm, (_, n: string) => labelOf.get(`peer${n}`)!);
    } else continue;
    const work = path.join(tempDir('tin'), 'testcases', tc);
    cpSync(dir, work, { recursive: true });
    writeFileSync(path.join(work, 'run.txt'), `${text}\n`);
    const c = paxos(['check', path.join(work, 'run.txt')]);
    t.is(c.code, 0, `${tc}: ${c.out}${c.err}`);
    t.regex(c.err, /^check: hostsfile .*hostsfile \(found beside .*run\.txt\)$/m, tc);
    const v = paxos(['viz', path.join(work, 'run.txt'), '-o', path.join(work, 'run.svg')]);
    t.is(v.code, 0, `${tc}: ${v.err}`);
    t.regex(
      readFileSync(path.join(work, 'run.svg'), 'utf8'),
      new RegExp(`<title>testcase ${tc}: run\\.txt</title>`),
      tc,
    );
    covered++;
  }
  t.true(covered >= 9, `${covered} testcases`);
});

test('container names that say nothing of the host are mapped through the compose file beside the hostsfile', (t) => {
  const work = path.join(tempDir('tin'), 'kv3');
  cpSync(path.join(root, 'testcases/kv3'), work, { recursive: true });
  const names: Record<string, string> = { '1': 'alpha', '2': 'beta', '3': 'gamma' };
  const composeFile = path.join(work, 'docker-compose.yml');
  writeFileSync(
    composeFile,
    readFileSync(composeFile, 'utf8').replace(
      /container_name: kv3-peer(\d)/g,
      (_, n: string) => `container_name: ${names[n]!}`,
    ),
  );
  const run = path.join(work, 'run.txt');
  writeFileSync(
    run,
    readFileSync(KV3_RUN, 'utf8').replace(/^kv3-peer(\d)/gm, (_, n: string) => names[n]!),
  );
  const c = paxos(['check', run]);
  t.is(c.code, 0, c.out + c.err);
  const v = paxos(['viz', run, '-o', path.join(work, 'run.html')]);
  t.is(v.code, 0, v.err);
  // Without that compose file there is no telling who alpha is.
  const elsewhere = path.join(tempDir('tin'), 'run.txt');
  writeFileSync(elsewhere, readFileSync(run, 'utf8'));
  const lost = paxos(['check', elsewhere, '--hostsfile', path.join(root, 'testcases/kv3/hostsfile')]);
  t.is(lost.code, 1);
  t.regex(lost.out, /run\.txt:\d+: alpha: not a host in /);
});

test('labels map to hosts by name: the host, or a -HOST / _HOST ending for exactly one host', (t) => {
  const hosts = ['peer1', 'peer2', 'peer3'];
  t.is(hostOfLabel('kv3-peer3', hosts), 'peer3');
  t.is(hostOfLabel('kv5_peer2', hosts), 'peer2');
  t.is(hostOfLabel('tc-peer3-1', hosts), 'peer3');
  t.is(hostOfLabel('PEER1', hosts), 'peer1');
  t.is(hostOfLabel('peer1-2', hosts), 'peer1');
  t.is(hostOfLabel('kv3-peer4', hosts), undefined);
  t.is(hostOfLabel('other', hosts), undefined);
  // Ambiguous: x-a-p1 ends with -p1 and with -a-p1.
  t.is(hostOfLabel('x-a-p1', ['p1', 'a-p1']), undefined);
  t.is(hostOfLabel('proj-a1-1', ['a1', 'a2', 'pa']), 'a1');
});

test('check and viz say which hostsfile they used, and why', (t) => {
  const given = paxos(['check', KV3_RUN, '--hostsfile', 'testcases/kv3/hostsfile']);
  t.regex(given.err, /^check: hostsfile testcases\/kv3\/hostsfile \(given with --hostsfile\)$/m);
  const beside = paxos(['check', 'testcases/2/expected']);
  t.is(beside.code, 0);
  t.regex(beside.err, /^check: hostsfile testcases\/2\/hostsfile \(found beside testcases\/2\/expected\)$/m);
  const viz = paxos(['viz', 'testcases/1/expected', '-o', path.join(tempDir('tin'), 'one.svg')]);
  t.is(viz.code, 0);
  t.regex(viz.err, /^viz: hostsfile testcases\/1\/hostsfile \(found beside testcases\/1\/expected\)$/m);

  // Testcase 1's transcript saved at the top level, beside testcase 2's
  // hostsfile: the check still runs, but says whose hostsfile it used.
  const top = tempDir('tin');
  cpSync(path.join(root, 'testcases/2/hostsfile'), path.join(top, 'hostsfile'));
  const t1 = readdirSync(path.join(root, 'testcases/1/expected')).flatMap((f) =>
    readFileSync(path.join(root, 'testcases/1/expected', f), 'utf8')
      .trim()
      .split('\n')
      .map((l) => `${f.replace('.log', '')} | ${l}`),
  );
  writeFileSync(path.join(top, 'run.txt'), `${t1.join('\n')}\n`);
  const saved = paxos(['check', 'run.txt'], top);
  t.regex(saved.err, /^check: hostsfile \.\/hostsfile \(found beside run\.txt; it is the default \.\/hostsfile\)$/m);

  // Nothing beside the input: the default ./hostsfile, said so.
  mkdirSync(path.join(top, 'a/b'), { recursive: true });
  writeFileSync(path.join(top, 'a/b/run.txt'), `${t1.join('\n')}\n`);
  const fallback = paxos(['check', 'a/b/run.txt'], top);
  t.regex(fallback.err, /^check: hostsfile \.\/hostsfile \(the default \.\/hostsfile: none beside a\/b\/run\.txt\)$/m);
});

test('an input with no peer lines is a usage error, in one line, for check and viz', (t) => {
  const html = path.join(tempDir('tin'), 'x.html');
  const viz = paxos(['viz', 'testcases/livelock', '-o', html]);
  t.is(viz.code, 2);
  t.false(existsSync(html), 'no empty chart is written');
  t.regex(
    viz.err,
    new RegExp(
      /^paxos: testcases\/livelock: no peer log lines: no non-empty \*\.log, /.source +
        /\*\.txt or \*\.jsonl files in this directory/.source,
      'm',
    ),
  );
  const check = paxos(['check', 'testcases/livelock']);
  t.is(check.code, 2);
  t.regex(check.err, /^paxos: testcases\/livelock: no peer log lines/m);
  // Merged output in which no container printed a log line.
  const file = path.join(tempDir('tin'), 'run.txt');
  writeFileSync(file, 'Attaching to peer1, peer2\npeer1 | peer1: warn: hello\npeer1 exited with code 0\n');
  for (const cmd of [['check'], ['viz', '-o', html]]) {
    const r = paxos([...cmd, file, '--hostsfile', 'testcases/2/hostsfile']);
    t.is(r.code, 2, cmd[0]);
    t.regex(
      r.err,
      new RegExp(
        /^paxos: .*run\.txt: no peer log lines \(lines like "peer3 \| \{\.\.\.\}", or /.source +
          /per-peer files such as peer3\.log\)$/.source,
        'm',
      ),
      cmd[0],
    );
    t.is(r.err.split('\n').filter((l) => l.startsWith('paxos:')).length, 1, 'one line');
  }
  t.false(existsSync(html));
});

test('viz titles a chart after its testcase', (t) => {
  const svg = path.join(tempDir('tin'), 'two.svg');
  t.is(paxos(['viz', 'testcases/2/expected', '-o', svg]).code, 0);
  t.regex(readFileSync(svg, 'utf8'), /<title>testcase 2<\/title>/);
  t.is(titleOf(['testcases/2/expected']), 'testcase 2');
  t.is(titleOf(['testcases/kv3']), 'testcase kv3');
  t.is(titleOf(['testcases/kv3/run.txt']), 'testcase kv3: run.txt');
  t.is(
    titleOf(['testcases/2/expected/peer1.log', 'testcases/2/expected/peer2.log']),
    'testcase 2: peer1.log, peer2.log',
  );
  t.is(titleOf(['/tmp/run.txt']), 'run.txt');
  t.is(paxos(['viz', 'testcases/2/expected', '-o', svg, '--title', 'mine']).code, 0);
  t.regex(readFileSync(svg, 'utf8'), /<title>mine<\/title>/);
});
