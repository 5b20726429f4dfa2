// The README puts `paxos` on PATH with `npm link`. This does that into a
// private prefix (never the machine's global one) and runs the linked
// command from outside the clone, where `npx paxos` cannot find it.

import { readlinkSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ROOT as root, run as runIn } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const run = (cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv) =>
  runIn(cmd, args, { cwd, env });

test('npm link puts a working paxos on PATH, usable outside the clone', async (t) => {
  const prefix = tempDir('link');
  const elsewhere = tempDir('elsewhere');
  // --ignore-scripts: the clone is built already, and the other tests run from its dist/.
  const env = { NPM_CONFIG_PREFIX: prefix };
  const linked = await run('npm', ['link', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], root, env);
  t.is(linked.code, 0, linked.out + linked.err);
  const bin = path.join(prefix, 'bin', 'paxos');
  t.regex(readlinkSync(bin), /dist\/src\/cli\/main\.js$/);

  const pathEnv = { ...env, PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env['PATH'] ?? ''}` };
  const help = await run('paxos', ['--help'], elsewhere, pathEnv);
  t.is(help.code, 0, help.out + help.err);
  t.regex(help.out, /^Usage: paxos -h FILE/);
  const kv = await run('paxos', ['put', '--help'], elsewhere, pathEnv);
  t.is(kv.code, 0, kv.out + kv.err);
  t.regex(kv.out, /Usage: paxos put KEY VALUE/);
});
