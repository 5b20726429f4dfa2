// The length of JSON.stringify(x), without building the string: the leader
// sizes every command it batches (log/leader.ts), and stringifying each one
// only to measure it was 4% of a loaded leader's CPU. Exact for data parsed
// from JSON (strings, finite numbers, booleans, null, arrays, plain
// objects); anything else is measured by JSON.stringify itself.

/** A character JSON.stringify escapes: a quote, a backslash, a control character or a lone surrogate's half. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

export function jsonLength(x: unknown): number {
  switch (typeof x) {
    case 'string':
      return ESCAPED.test(x) ? JSON.stringify(x).length : x.length + 2;
    case 'number':
      return Number.isFinite(x) ? String(x).length : 4;
    case 'boolean':
      return x ? 4 : 5;
    case 'object': {
      if (x === null) return 4;
      if (Array.isArray(x)) {
        let n = 2 + Math.max(0, x.length - 1);
        for (const v of x as unknown[]) n += v === undefined || typeof v === 'function' ? 4 : jsonLength(v);
        return n;
      }
      if (Object.getPrototypeOf(x) !== Object.prototype) break;
      let n = 2;
      let fields = 0;
      for (const [k, v] of Object.entries(x)) {
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        n += jsonLength(k) + 1 + jsonLength(v);
        fields += 1;
      }
      return n + Math.max(0, fields - 1);
    }
  }
  return (JSON.stringify(x) as string | undefined)?.length ?? 0;
}
