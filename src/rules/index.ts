// The protocol rules, as the tools that read peers' output use them: the
// live page (src/ui), the sequence chart (src/viz) and the test tools
// (src/tools) import the protocols through this module only, so none of
// them keeps a copy of a rule (dependency-cruiser's rule
// `rules-through-one-module`). Each rule still has one home; this module
// only names what the readers may use.

// The frozen stdout line (both protocols) and peer ids.
export type { PeerId } from '../paxos/ids.js';
export {
  formatLine,
  formatSlotLine,
  MESSAGE_TYPES,
  type Action,
  type LogLine,
  type MessageType,
  type SlotLine,
} from '../paxos/logline.js';
// The lab's acceptor rule (docs/protocol.md), as the peers run it.
export { handleAccept, handlePrepare, type AcceptorState } from '../core/acceptor.js';
// The key-value state machine: commands, their checks, and the store.
export {
  checkCommand,
  checkKey,
  checkValue,
  decodeCommand,
  type CheckedCommand,
  type ClientCommand,
  type Command,
} from '../sm/command.js';
export { KvStore } from '../sm/kv.js';
