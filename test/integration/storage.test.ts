import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from '../helpers/tmp.js';
import { EMPTY_STATE, type DurableState } from '../../src/core/types.js';
import { FileStorage, StateError } from '../../src/storage/file.js';

const dir = (): string => path.join(tempDir('state'), 'peer');
/** A peer's life on `d`: load, save what it is given, release; like a process that starts, works and exits. */
async function life(d: string, save?: DurableState): Promise<DurableState> {
  const s = new FileStorage(d);
  try {
    const loaded = await s.load();
    if (save !== undefined) await s.save(save);
    return loaded;
  } finally {
    await s.release();
  }
}

const STATE: DurableState = {
  promised: 7,
  accepted: { n: 5, v: 'X "q"\n€🙂' },
  lastProposal: { 2: 6 },
  chosen: { n: 5, v: 'X "q"\n€🙂' },
};

test('a first start finds no state and creates the data directory', async (t) => {
  const d = dir();
  t.deepEqual(await new FileStorage(d).load(), EMPTY_STATE);
  t.true(existsSync(d));
});

test('what is saved is what a restart loads, exactly', async (t) => {
  const d = dir();
  await life(d, STATE);
  t.deepEqual(await life(d), STATE);
});

test('a crash mid-write leaves the old state: a torn temp file is ignored', async (t) => {
  const d = dir();
  await life(d, STATE);
  writeFileSync(path.join(d, 'state.json.tmp'), '{"format":"paxos-state/1","sha'); // died here
  t.deepEqual(await life(d, { ...STATE, promised: 9 }), STATE);
  t.is((await life(d)).promised, 9, 'and the next save replaces it');
});

for (const [what, mangle, why] of [
  ['not JSON', () => '{"format":"paxos-state/1",', /is not valid JSON/],
  ['a checksum mismatch', (text: string) => text.replace('"promised":7', '"promised":1'), /fails its checksum/],
  ['another format', (text: string) => text.replace('paxos-state/1', 'paxos-state/9'), /is not a paxos-state\/1 file/],
  ['an empty file', () => '', /is not valid JSON/],
] as const) {
  test(`a state file with ${what} stops the peer with a clear error, never an empty start`, async (t) => {
    const d = dir();
    await life(d, STATE);
    const file = path.join(d, 'state.json');
    writeFileSync(file, mangle(readFileSync(file, 'utf8')));
    const err = await t.throwsAsync(new FileStorage(d).load(), { instanceOf: StateError, message: why });
    t.true(err?.message.startsWith(`state file ${file} `));
    t.regex(err?.message ?? '', /refusing to start empty/);
  });
}

test('a well-formed file with a malformed state inside is refused too', async (t) => {
  const d = dir();
  await life(d);
  const bad = { promised: -1, accepted: null, lastProposal: {}, chosen: null };
  const { createHash } = await import('node:crypto');
  const sha256 = createHash('sha256').update(JSON.stringify(bad)).digest('hex');
  writeFileSync(path.join(d, 'state.json'), JSON.stringify({ format: 'paxos-state/1', sha256, state: bad }));
  await t.throwsAsync(new FileStorage(d).load(), { instanceOf: StateError, message: /holds a malformed state/ });
});

/** A separate process that takes the lock on `d` and holds it until killed. */
function holder(d: string): Promise<ReturnType<typeof spawn>> {
  const mod = new URL('../../src/storage/file.js', import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(mod)}); await new m.FileStorage(${JSON.stringify(d)}).load(); ` +
        `console.log('locked'); setInterval(() => {}, 1e6);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve) => child.stdout!.once('data', () => resolve(child)));
}

test('two live peers cannot share a data directory', async (t) => {
  const d = dir();
  const other = await holder(d);
  t.teardown(() => void other.kill('SIGKILL'));
  await t.throwsAsync(new FileStorage(d).load(), {
    instanceOf: StateError,
    message: /is in use by another running peer; give each peer its own --data-dir/,
  });
  // The same directory under another name is still the same directory.
  const alias = `${d}/../${path.basename(d)}`;
  await t.throwsAsync(new FileStorage(alias).load(), { instanceOf: StateError });
});

test('a peer killed with -9 leaves no lock behind: a restart takes the directory at once', async (t) => {
  const d = dir();
  const other = await holder(d);
  other.kill('SIGKILL');
  await new Promise((r) => other.once('exit', r));
  await t.notThrowsAsync(new FileStorage(d).load());
});

test('release gives the directory up for the next peer', async (t) => {
  const d = dir();
  const first = new FileStorage(d);
  await first.load();
  await t.throwsAsync(new FileStorage(d).load(), { instanceOf: StateError });
  await first.release();
  await t.notThrowsAsync(new FileStorage(d).load());
});
