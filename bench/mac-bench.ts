// The cost of the MAC on every line (src/transport/message-mac.ts): µs to
// seal and to open one line of about 1 KiB, and of 100 bytes.
//   npm run -s build && node dist/bench/mac-bench.js

import { MessageMac } from '../src/transport/message-mac.js';

const secret = { source: 'bench', key: Buffer.from('a benchmark secret of 32 bytes!!') };
const binding = { serverNonce: 'a'.repeat(32), clientNonce: 'b'.repeat(32), from: 1, to: 2 };

function run(bytes: number, n: number): void {
  const line = JSON.stringify({ type: 'accept', from: 1, slot: 12345, value: 'x'.repeat(bytes - 50) });
  const sender = new MessageMac(secret, binding, 'connector');
  const receiver = new MessageMac(secret, binding, 'server');
  const sealed: string[] = new Array<string>(n);
  for (let i = 0; i < 2000; i++) receiver.open(sender.seal(line)); // warm up
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sealed[i] = sender.seal(line);
  const seal = Number(process.hrtime.bigint() - t0) / 1000 / n;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (receiver.open(sealed[i]!) === null) throw new Error('a line failed');
  const open = Number(process.hrtime.bigint() - t0) / 1000 / n;
  const extra = sealed[0]!.length - line.length;
  console.log(`${line.length} B line: seal ${seal.toFixed(2)} µs, open ${open.toFixed(2)} µs, +${extra} B`);
}

run(1024, 100_000);
run(100, 100_000);
