// Names both protocols share. The lab core (src/core) and the replicated log
// (src/log) each build on these; neither imports the other.

/** A peer's id: its 1-based line number in the hostsfile. */
export type PeerId = number;
