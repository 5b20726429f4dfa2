// A bare key-value client for tests: one request to one replica (the
// client library's kvRequest, without kvCall's retries), the answer or null.

import { randomBytes } from 'node:crypto';
import { decodeCommand } from '../../src/sm/command.js';
import { kvRequest, newRequestId } from '../../src/client/kv.js';
import type { KvRequest, KvResult } from '../../src/wire/kv.js';
import type { Endpoint } from '../../src/transport/link.js';

export async function kvAsk(at: Endpoint, body: Record<string, unknown>, timeoutMs = 5000): Promise<KvResult | null> {
  let req: KvRequest;
  if (body['type'] === 'dump') req = { type: 'dump', id: newRequestId() };
  else {
    const d = decodeCommand(body['cmd']);
    if (!d.ok || d.value.op === 'noop' || d.value.op === 'expire')
      throw new Error(`test built a bad command: ${d.ok ? d.value.op : d.why}`);
    req = { type: 'kv', id: newRequestId(), cmd: d.value };
  }
  const o = await kvRequest(at, req, null, timeoutMs);
  return o.kind === 'reply' ? o.result : null;
}

/**
 * A put/get/del/cas as a fresh client's first command (client id of its own,
 * seq 1): a store that never saw a client takes only its seq 1.
 */
export function cmd(
  o: 'put' | 'get' | 'del' | 'cas',
  k: string,
  v?: string,
  e?: string | null,
): Record<string, unknown> {
  const base = { o, c: `t-${randomBytes(6).toString('hex')}`, s: 1, k };
  if (o === 'put') return { type: 'kv', cmd: { ...base, v } };
  if (o === 'cas') return { type: 'kv', cmd: { ...base, e: e ?? null, v } };
  return { type: 'kv', cmd: base };
}
