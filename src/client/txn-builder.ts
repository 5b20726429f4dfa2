// A transaction as a program builds it (KvClient.txn):
//
//   const r = await kv
//     .txn()
//     .if('balance/alice', '=', '100')
//     .if('balance/bob', 'mod', '<', 90)        a revision: 'create', 'mod' or 'version'
//     .then({ op: 'put', key: 'balance/alice', value: '90' }, { op: 'put', key: 'balance/bob', value: '10' })
//     .else({ op: 'get', key: 'balance/alice' })
//     .commit();
//   r.succeeded; // whether the compares held, and so which list ran
//
// A builder with a `then` method is a "thenable": `await` calls it with two
// functions. So a `then` given functions commits, rather than taking them
// for ops: a builder awaited without commit() runs once, and never hangs.

import type { RevisionOp, RevisionTarget, TxnBody, TxnCompare, TxnOp } from '../sm/txn.js';
import type { CallOptions } from './call-options.js';

/** What a committed transaction did. */
export interface TxnResult {
  /** Whether every compare held: the `then` list ran, else the `else` list. */
  readonly succeeded: boolean;
  /** One per op of the list that ran: a get's `value`, a put's or del's `prev` (null: absent). */
  readonly results: readonly TxnOpResult[];
  /** The log slot that applied it. */
  readonly slot: number;
}

export interface TxnOpResult {
  readonly op: TxnOp['op'];
  readonly key: string;
  /** get: the value (null: absent). */
  readonly value?: string | null;
  /** get of a key that is present: its revisions (key-entry.ts). */
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly version?: number;
  /** put, del: the value before (null: absent). */
  readonly prev?: string | null;
}

type Commit = (body: TxnBody, o: CallOptions) => Promise<TxnResult>;

export class TxnBuilder {
  private readonly compares: TxnCompare[] = [];
  private readonly success: TxnOp[] = [];
  private readonly failure: TxnOp[] = [];

  constructor(private readonly commitBody: Commit) {}

  /** Compare `key`'s value: `=` or `!=` to `value` (null: absent). Every compare must hold. */
  if(key: string, op: '=' | '!=', value: string | null): this;
  /** Compare one of `key`'s revisions: `=`, `!=`, `<` or `>` a number (an absent key's are 0). */
  if(key: string, target: RevisionTarget, op: RevisionOp, value: number): this;
  if(key: string, a: string, b: string | null, c?: number): this {
    this.compares.push(
      c === undefined ? ({ key, op: a, value: b } as TxnCompare) : ({ key, target: a, op: b, value: c } as TxnCompare),
    );
    return this;
  }

  /**
   * The ops to run if every compare holds. (Called with functions, as
   * `await` calls a thenable, it commits: a builder awaited by mistake still
   * runs once, never hangs. Call commit() to type the result.)
   */
  then(...ops: TxnOp[]): this {
    if (ops.some((o) => typeof o === 'function')) {
      const [ok, fail] = ops as unknown as [(r: TxnResult) => unknown, (e: unknown) => unknown];
      void this.commit().then(ok, fail);
      return this;
    }
    this.success.push(...ops);
    return this;
  }

  /** The ops to run if some compare does not hold. */
  else(...ops: TxnOp[]): this {
    this.failure.push(...ops);
    return this;
  }

  /** Send it: one slot, all of it or none. */
  commit(o: CallOptions = {}): Promise<TxnResult> {
    return this.commitBody({ compares: [...this.compares], success: [...this.success], failure: [...this.failure] }, o);
  }
}
