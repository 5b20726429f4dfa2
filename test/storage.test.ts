import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { EMPTY_STATE, type DurableState } from '../src/core/types.js';
import { FileStorage, StateError } from '../src/storage/file.js';

const dir = (): string => path.join(mkdtempSync(path.join(os.tmpdir(), 'paxos-state-')), 'peer');
const STATE: DurableState = { promised: 7, accepted: { n: 5, v: 'X "q"\n€🙂' }, lastProposal: { 2: 6 }, chosen: { n: 5, v: 'X "q"\n€🙂' } };

test('a first start finds no state and creates the data directory', async (t) => {
  const d = dir();
  t.deepEqual(await new FileStorage(d).load(), EMPTY_STATE);
  t.true(existsSync(d));
});

test('what is saved is what a restart loads, exactly', async (t) => {
  const d = dir();
  await new FileStorage(d).load();
  await new FileStorage(d).save(STATE);
  t.deepEqual(await new FileStorage(d).load(), STATE);
});

test('a crash mid-write leaves the old state: a torn temp file is ignored', async (t) => {
  const d = dir();
  const s = new FileStorage(d);
  await s.load();
  await s.save(STATE);
  writeFileSync(path.join(d, 'state.json.tmp'), '{"format":"paxos-state/1","sha'); // died here
  t.deepEqual(await new FileStorage(d).load(), STATE);
  await s.save({ ...STATE, promised: 9 });
  t.is((await new FileStorage(d).load()).promised, 9, 'and the next save replaces it');
});

for (const [what, mangle, why] of [
  ['not JSON', () => '{"format":"paxos-state/1",', /is not valid JSON/],
  ['a checksum mismatch', (text: string) => text.replace('"promised":7', '"promised":1'), /fails its checksum/],
  ['another format', (text: string) => text.replace('paxos-state/1', 'paxos-state/9'), /is not a paxos-state\/1 file/],
  ['an empty file', () => '', /is not valid JSON/],
] as const) {
  test(`a state file with ${what} stops the peer with a clear error, never an empty start`, async (t) => {
    const d = dir();
    await new FileStorage(d).load();
    await new FileStorage(d).save(STATE);
    const file = path.join(d, 'state.json');
    writeFileSync(file, mangle(readFileSync(file, 'utf8')));
    const err = await t.throwsAsync(new FileStorage(d).load(), { instanceOf: StateError, message: why });
    t.true(err?.message.startsWith(`state file ${file} `));
    t.regex(err?.message ?? '', /refusing to start empty/);
  });
}

test('a well-formed file with a malformed state inside is refused too', async (t) => {
  const d = dir();
  await new FileStorage(d).load();
  const bad = { promised: -1, accepted: null, lastProposal: {}, chosen: null };
  const { createHash } = await import('node:crypto');
  const sha256 = createHash('sha256').update(JSON.stringify(bad)).digest('hex');
  writeFileSync(path.join(d, 'state.json'), JSON.stringify({ format: 'paxos-state/1', sha256, state: bad }));
  await t.throwsAsync(new FileStorage(d).load(), { instanceOf: StateError, message: /holds a malformed state/ });
});

test('two live peers cannot share a data directory', async (t) => {
  const d = dir();
  // Another live process holds the lock.
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.teardown(() => void other.kill());
  await new FileStorage(d).load();
  writeFileSync(path.join(d, 'LOCK'), `${other.pid}\n`);
  await t.throwsAsync(new FileStorage(d).load(), { instanceOf: StateError, message: new RegExp(`in use by process ${other.pid}; give each peer its own --data-dir`) });
});

test('a lock left by a crashed peer is taken over', async (t) => {
  const d = dir();
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.once('exit', r));
  await new FileStorage(d).load();
  writeFileSync(path.join(d, 'LOCK'), `${gone.pid}\n`);
  await t.notThrowsAsync(new FileStorage(d).load());
  t.is(readFileSync(path.join(d, 'LOCK'), 'utf8').trim(), String(process.pid));
});
