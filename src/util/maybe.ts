// A value now or later. The node loop (src/node/loop.ts) runs the same code
// over a real disk, whose writes finish later, and over the simulator's
// in-memory one, whose writes finish at once: a step that got a plain value
// goes on in the same call, so a simulated run stays synchronous and
// deterministic, and a real one awaits only what it must.

export type MaybePromise<T> = T | Promise<T>;

/** Run `next` once `first` is done: at once if it is a plain value, else when it resolves. */
export function andThen<T, U>(first: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return first instanceof Promise ? first.then(next) : next(first);
}
