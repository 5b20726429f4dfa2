// The docs are held to the code (docs/testing.md, "The docs are tested"):
// - every command in a ```sh runnable block of README.md or docs/*.md runs,
//   from the clone's root, and exits 0;
// - every long flag written next to a `paxos` command or an npm script (in
//   one code span, or one line of a code block), and every flag in the first
//   column of a table under a heading that names a command, is in that
//   command's --help;
// - the README stays under 15 KB, nothing points outside the repository,
//   and every relative link (and its #anchor) leads somewhere.
// `npx paxos` is run as node .../dist/src/cli/main.js and `npm run NAME --` as
// the script's compiled command: nothing here rebuilds dist/, which other
// test files run from at the same time.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { MAIN, ROOT as root, run as runToEnd, runSync } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const SCRIPTS = (
  JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

const DOCS = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (f: string): string => readFileSync(path.join(root, f), 'utf8');

// ---------------------------------------------------------------- extraction

/** A flag named next to a command: `cmd` is "paxos" (the peer), "paxos run", ..., or "npm run sim". */
export interface Mention {
  readonly cmd: string;
  readonly flag: string;
  readonly line: number;
}

const SUBCOMMANDS = [
  'run',
  'submit',
  'get',
  'put',
  'del',
  'cas',
  'dump',
  'txn',
  'watch',
  'check',
  'viz',
  'lincheck',
  'snapshot',
  'lease',
  'lock',
  'elect',
  'status',
];
const COMMAND = /(?<![\w/.-])(?:paxos(?=\s|$)(?:\s+([a-z]+)(?=\s|$))?|npm run ([\w:-]+))/g;
const FLAG = /(?<![\w-])--[a-z][a-z0-9-]*/g;

/**
 * The flags each command in `text` is given: the text from one command to the next, cut at a shell comment or
 * separator.
 */
function commandsIn(text: string, line: number, out: Mention[]): void {
  const matches = [...text.matchAll(COMMAND)];
  matches.forEach((m, i) => {
    const end = i + 1 < matches.length ? matches[i + 1]!.index : text.length;
    let rest = text.slice(m.index + m[0].length, end);
    const cut = rest.search(/\s#|\||;|&&|\)|\]\(/);
    if (cut >= 0) rest = rest.slice(0, cut);
    let cmd: string;
    if (m[2] !== undefined) {
      cmd = `npm run ${m[2]}`;
      rest = rest.replace(/^\s*--(?=\s|$)/, ''); // npm's own separator
    } else {
      const sub = m[1];
      if (sub !== undefined && SUBCOMMANDS.includes(sub)) cmd = `paxos ${sub}`;
      else {
        cmd = 'paxos';
        if (sub !== undefined) rest = `${sub}${rest}`;
      }
      const dd = rest.search(/(^|\s)--(\s|$)/); // end of paxos's options
      if (dd >= 0) rest = rest.slice(0, dd);
    }
    for (const f of rest.matchAll(FLAG)) out.push({ cmd, flag: f[0], line });
  });
}

/** The command a heading names, for the tables under it. */
function headingCommand(heading: string): string | undefined {
  for (const span of heading.matchAll(/`([^`]+)`/g)) {
    const m = [...span[1]!.matchAll(COMMAND)][0];
    if (m === undefined) continue;
    if (m[2] !== undefined) return `npm run ${m[2]}`;
    return m[1] !== undefined && SUBCOMMANDS.includes(m[1]) ? `paxos ${m[1]}` : 'paxos';
  }
  return undefined;
}

/** Every flag a doc names next to a command. */
export function flagMentions(md: string): Mention[] {
  const out: Mention[] = [];
  const lines = md.split('\n');
  let fence = false;
  let context: string | undefined;
  let para: Array<{ text: string; line: number }> = [];
  const flush = (): void => {
    if (para.length === 0) return;
    // A code span may wrap across lines: join the paragraph, then map each span back to its first line.
    let joined = '';
    const starts: number[] = [];
    for (const p of para) {
      starts.push(joined.length);
      joined += `${p.text} `;
    }
    for (const span of joined.matchAll(/`([^`]+)`/g)) {
      let k = 0;
      while (k + 1 < starts.length && starts[k + 1]! <= span.index) k += 1;
      commandsIn(span[1]!, para[k]!.line, out);
    }
    para = [];
  };
  lines.forEach((text, i) => {
    const line = i + 1;
    if (/^\s*```/.test(text)) {
      flush();
      fence = !fence;
      return;
    }
    if (fence) {
      commandsIn(text, line, out);
      return;
    }
    if (/^#{1,6}\s/.test(text)) {
      flush();
      context = headingCommand(text);
      commandsIn(text.replace(/`/g, ' '), line, out);
      return;
    }
    if (/^\s*\|/.test(text)) {
      flush();
      const first = text.split('|')[1] ?? '';
      if (context !== undefined) for (const f of first.matchAll(FLAG)) out.push({ cmd: context, flag: f[0], line });
      for (const span of text.matchAll(/`([^`]+)`/g)) commandsIn(span[1]!, line, out);
      return;
    }
    if (text.trim() === '') flush();
    else para.push({ text, line });
  });
  flush();
  return out;
}

/** The commands of ```sh runnable blocks, one per line. */
export function runnableCommands(md: string): Array<{ command: string; line: number }> {
  const out: Array<{ command: string; line: number }> = [];
  let inRunnable = false;
  let fence = false;
  md.split('\n').forEach((text, i) => {
    const open = /^\s*```(.*)$/.exec(text);
    if (open !== null) {
      if (!fence) inRunnable = /^sh\s+runnable\s*$/.test(open[1]!.trim());
      fence = !fence;
      return;
    }
    if (fence && inRunnable && text.trim() !== '' && !text.trim().startsWith('#'))
      out.push({ command: text.trim(), line: i + 1 });
  });
  return out;
}

/** The compiled command an npm script runs, without its build step: "node dist/src/sim/main.js". */
function scriptCommand(name: string): string | undefined {
  const s = SCRIPTS[name];
  if (s === undefined) return undefined;
  const last = s
    .split('&&')
    .at(-1)!
    .trim()
    .replace(/^exec\s+/, '');
  return /^node\s/.test(last) ? last : undefined;
}

/** A documented command as this test runs it. */
export function toShell(command: string): string {
  return command
    .replace(/(^|[\s;&|(])npx paxos(?=\s|$)/g, `$1node ${MAIN}`)
    .replace(/(^|[\s;&|(])npm run ([\w:-]+)(?:\s+--(?=\s|$))?/g, (all, pre: string, name: string) => {
      const c = scriptCommand(name);
      if (c === undefined) throw new Error(`npm run ${name}: no compiled command to run it by`);
      return `${pre}${c}`;
    });
}

// ---------------------------------------------------------------- --help

const helps = new Map<string, string>();

function run(args: readonly string[]): { code: number | null; out: string } {
  const r = runSync(process.execPath, args, { timeoutMs: 60_000 });
  return { code: r.code, out: `${r.out}${r.err}` };
}

/** What a command's --help says (for a script with no --help, its compiled source). */
export function helpOf(cmd: string): string {
  const known = helps.get(cmd);
  if (known !== undefined) return known;
  let text: string;
  if (cmd === 'paxos') text = run([MAIN, '--help']).out;
  // the lab's get --from and the store's get KEY
  else if (cmd === 'paxos get') text = run([MAIN, 'get', '--help']).out + run([MAIN, 'put', '--help']).out;
  else if (['paxos del', 'paxos cas', 'paxos dump'].includes(cmd)) text = run([MAIN, 'put', '--help']).out;
  else if (cmd.startsWith('paxos ')) text = run([MAIN, cmd.slice(6), '--help']).out;
  else {
    const name = cmd.slice('npm run '.length);
    const c = scriptCommand(name);
    if (c === undefined) text = '';
    else {
      const args = c.split(/\s+/).slice(1);
      const entry = args.find((a) => a.endsWith('.js'))!;
      const h = run([...args, '--help']);
      text = h.code === 0 ? h.out : readFileSync(path.join(root, entry), 'utf8');
      if (name === 'sim') text += run([...args, '--log', '--help']).out;
    }
  }
  helps.set(cmd, text);
  return text;
}

/** The mentions whose flag the command's help does not know. */
export function unknownFlags(mentions: readonly Mention[], help: (cmd: string) => string = helpOf): Mention[] {
  return mentions.filter((m) => !new RegExp(`(?<![\\w-])${m.flag}(?![\\w-])`).test(help(m.cmd)));
}

// ---------------------------------------------------------------- tests

test('the extractor finds flags next to commands, in spans, code blocks and command tables', (t) => {
  const md = [
    'Run `npx paxos run testcases/2 --keep-running` and then `paxos put --to peer1 -- -k --x`.',
    'A span may wrap: `paxos run DIR',
    '  --quiet`, and `npm run sim -- --seeds 5`.',
    '',
    '```sh',
    'docker compose exec peer1 paxos get --from peer3   # or paxos submit --json',
    'paxos put K V   paxos dump --from peer1',
    '```',
    '',
    '## `paxos viz FILE...`',
    '',
    '| flag | meaning |',
    '|---|---|',
    '| `-o, --out FILE` | where (`--ignored` here) |',
    '',
    '## Nothing',
    '',
    '| `--not-a-command-flag` | |',
    'paxos run: a line of output, --not-a-flag',
  ].join('\n');
  t.deepEqual(
    flagMentions(md).map((m) => `${m.line} ${m.cmd} ${m.flag}`),
    [
      '1 paxos run --keep-running',
      '1 paxos put --to',
      '2 paxos run --quiet',
      '3 npm run sim --seeds',
      '6 paxos get --from',
      '6 paxos submit --json',
      '7 paxos dump --from',
      '14 paxos viz --out',
    ],
  );
});

test('a made-up flag next to a command fails the check; real ones pass', (t) => {
  const md =
    'Keep it up with `paxos run testcases/2 --keep-runing`, or `paxos run DIR --keep-running`, `npm run sim -- ' +
    '--seedz 3`.\n\n## `paxos run DIR`\n\n| `--bogus-flag` | no |\n';
  const bad = unknownFlags(flagMentions(md));
  t.deepEqual(
    bad.map((m) => `${m.cmd} ${m.flag}`),
    ['paxos run --keep-runing', 'npm run sim --seedz', 'paxos run --bogus-flag'],
  );
});

test('runnable blocks: only ```sh runnable, mapped to the compiled CLI and scripts', (t) => {
  const md =
    '```sh\nnpm start\n```\n\n```sh runnable\n# a comment\nnpx paxos run testcases/1 --quiet   # two seconds\nnpm ' +
    'run sim -- --seeds 5\n```\n';
  const cmds = runnableCommands(md);
  t.deepEqual(
    cmds.map((c) => c.line),
    [7, 8],
  );
  t.is(toShell(cmds[0]!.command), `node ${MAIN} run testcases/1 --quiet   # two seconds`);
  t.is(toShell(cmds[1]!.command), 'node dist/src/sim/main.js --seeds 5');
});

test('every flag the docs name next to a command is in its --help', (t) => {
  const all = DOCS.flatMap((f) => flagMentions(read(f)).map((m) => ({ ...m, file: f })));
  t.true(all.length > 50, `only ${all.length} flag mentions found: is the extractor broken?`);
  const bad = DOCS.flatMap((f) => unknownFlags(flagMentions(read(f))).map((m) => `${f}:${m.line}: ${m.cmd} ${m.flag}`));
  t.deepEqual(bad, [], 'flags the docs name that the command does not know');
});

test('README is under 15 KB; nothing points outside the repository', (t) => {
  t.true(
    statSync(path.join(root, 'README.md')).size < 15_000,
    'README.md must stay under 15 KB: move detail into docs/',
  );
  const outside = `..${'/'}shared`;
  const files = [...DOCS];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|sh|md|json|yml)$/.test(e.name)) files.push(p);
    }
  };
  for (const d of ['src', 'test', 'scripts', 'bench', 'testcases']) walk(d);
  const hits = files.filter((f) => read(f).includes(outside));
  t.deepEqual(hits, [], `files that point at ${outside}`);
});

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

test('every relative link in the docs leads to a file in the repository, and to a heading there', (t) => {
  const broken: string[] = [];
  for (const f of DOCS) {
    for (const m of read(f).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const resolved = file === '' ? path.join(root, f) : path.resolve(path.dirname(path.join(root, f)), file);
      if (!resolved.startsWith(root) || !existsSync(resolved)) {
        broken.push(`${f}: ${target}: no such file in the repository`);
        continue;
      }
      if (anchor === undefined || !resolved.endsWith('.md')) continue;
      const slugs = readFileSync(resolved, 'utf8')
        .split('\n')
        .filter((l) => /^#{1,6}\s/.test(l))
        .map((l) => slug(l.replace(/^#+\s/, '')));
      if (!slugs.includes(anchor)) broken.push(`${f}: ${target}: no such heading`);
    }
  }
  t.deepEqual(broken, []);
});

test('every ```sh runnable command in the README and docs/ runs and exits 0', async (t) => {
  t.timeout(10 * 60_000);
  const cmds = DOCS.flatMap((f) => runnableCommands(read(f)).map((c) => ({ ...c, file: f })));
  t.true(cmds.length >= 3, 'the README marks its quick commands runnable');
  const tmp = tempDir('docs');
  for (const c of cmds) {
    const shell = toShell(c.command);
    // Bounded: a command that hangs is killed, and fails.
    const r = await runToEnd('bash', ['-c', shell], { env: { TMPDIR: tmp }, timeoutMs: 3 * 60_000 });
    t.is(r.code, 0, `${c.file}:${c.line}: ${c.command}\n(ran: ${shell})\n${r.out}${r.err}`);
  }
});
