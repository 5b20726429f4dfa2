// Reading a replica's --metrics listener in tests: its address from the
// line it prints on stderr, its probes, and /metrics parsed with a
// Prometheus text-format parser (parse-prometheus-text-format).

import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { setTimeout as delay } from 'node:timers/promises';
import type { Proc } from './procs.js';

/** The base URL a replica started with --metrics ADDR:0 printed. */
export async function metricsUrl(p: Proc, ms = 60_000): Promise<string> {
  const line = await p.waitStderr(/metrics on (http:\/\/\S+)/, ms);
  return /metrics on (http:\/\/\S+)/.exec(line)![1]!;
}

/** GET a path: status and body; null if the replica does not answer. */
export async function probe(url: string, path: string): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

/** One scrape of /metrics, parsed. */
export class Scrape {
  constructor(readonly families: readonly MetricFamily[]) {}

  static async of(url: string): Promise<Scrape> {
    const r = await probe(url, '/metrics');
    if (r === null || r.status !== 200) throw new Error(`GET ${url}/metrics: ${r === null ? 'no answer' : r.status}`);
    return new Scrape(parsePrometheusTextFormat(r.body));
  }

  family(name: string): MetricFamily | undefined {
    return this.families.find((f) => f.name === name);
  }

  /** The sum of a counter's or gauge's samples whose labels include `labels` (0 if none). */
  value(name: string, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const s of this.family(name)?.metrics ?? []) {
      if (Object.entries(labels).every(([k, v]) => s.labels?.[k] === v)) sum += Number(s.value);
    }
    return sum;
  }

  /**
   * An unlabeled histogram's observation count. (The parser flattens a
   * histogram with labels into one sample, without its count: read those
   * through a counter beside them.)
   */
  count(name: string): number {
    return (this.family(name)?.metrics ?? []).reduce((n, s) => n + Number(s.count ?? 0), 0);
  }
}

/** Poll `cond` every 200 ms until it holds, or throw after `ms`. */
export async function eventually(cond: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(200);
  }
}
