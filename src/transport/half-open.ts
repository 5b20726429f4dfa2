// The budget of half-open connections: accepted, but not yet authenticated
// (or, running open, not yet heard from). Each holds a socket and a timer
// and has proved nothing, so there is a fixed number of them; when the
// budget is full a newcomer is still let in, and the oldest half-open
// connection of the source address that holds the most of them makes room.
// So an attacker holding many slots loses its own first, a peer calling from
// an address of its own is never pushed out by one calling from elsewhere,
// and, where all share one address, a newcomer still lives until as many
// newer connections have come (a handshake takes one round trip).

export class HalfOpenBudget<T> {
  private readonly bySource = new Map<string, Set<T>>();
  private readonly sourceOf = new Map<T, string>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.sourceOf.size;
  }

  /** Count `item` in; returns the connection to close to make room for it, if any. */
  admit(source: string, item: T): T | null {
    const evicted = this.sourceOf.size >= this.max ? this.oldestOfBusiest() : null;
    if (evicted !== null) this.release(evicted);
    let set = this.bySource.get(source);
    if (set === undefined) this.bySource.set(source, (set = new Set()));
    set.add(item);
    this.sourceOf.set(item, source);
    return evicted;
  }

  /** It authenticated, spoke, or closed: no longer half-open. Idempotent. */
  release(item: T): void {
    const source = this.sourceOf.get(item);
    if (source === undefined) return;
    this.sourceOf.delete(item);
    const set = this.bySource.get(source)!;
    set.delete(item);
    if (set.size === 0) this.bySource.delete(source);
  }

  private oldestOfBusiest(): T | null {
    let busiest: Set<T> | null = null;
    for (const set of this.bySource.values()) if (busiest === null || set.size > busiest.size) busiest = set;
    // A Set iterates in insertion order: its first item is its oldest.
    return busiest === null ? null : (busiest.values().next().value ?? null);
  }
}
