// dependency-cruiser rules for src/: the layers, bottom to top, and no cycles.
// Run by `npm run lint` (and so by `npm test` and CI). bench/ and test/ are not
// checked: they may import anything.

// Each tier may import the tiers below it, and a folder may import itself;
// folders in the same tier stay independent of each other. Why each sits where:
const TIERS = [
  // 0. Pure and dependency-free: util (the Logger interface, passed in, never
  //    the daemon's; prng, backoff), paxos (what both protocols share: peer
  //    ids, the frozen log line format, limits, the cluster model).
  ['util', 'paxos'],
  // 1. The pure cores, apart from each other: core (the lab's single-decree
  //    state machines), log (the Multi-Paxos replica log), sm (the key-value
  //    state machine), lincheck (the checker).
  ['core', 'log', 'sm', 'lincheck'],
  // 2. Built on the cores' types, without each other: config (parses the
  //    hostsfile into paxos's Cluster; ConfigError; flags; the secret;
  //    settings per mode), storage (durable state), rules (the one module
  //    through which ui, viz and tools use the protocols' rules).
  ['config', 'storage', 'rules'],
  // 3. Speak or read bytes, or drive a core: transport (lines, links, server,
  //    handshake: no protocol, it takes a Codec), transcript (reads and checks
  //    peers' output), node (the one node loop and the replica around the log
  //    core, over effects: no sockets, timers or disks).
  ['transport', 'transcript', 'node'],
  // 4. Each protocol's wire format, a Codec for the transport: wire.
  ['wire'],
  // 5. Put the pieces together: daemon (a peer's shell: transport + storage +
  //    the node loop), sim (the deterministic simulators: the node loop over a
  //    simulated clock, disk and network), client (the lab and key-value
  //    client libraries), runner (launches testcases, reads transcripts), viz
  //    (charts from transcripts).
  ['daemon', 'sim', 'client', 'runner', 'viz'],
  // 6. Test and fault tools built on the runner (nemesis, docker tests, the
  //    fault proxy). They start the CLI as a process, never import it.
  ['tools'],
  // 7. The live page: runs clusters (runner), injects faults (tools' proxy),
  //    draws charts (viz).
  ['ui'],
  // 8. The command line: the entry point, may use everything but storage.
  ['cli'],
];

const layerRules = TIERS.flatMap((tier, rank) =>
  tier.map((folder) => {
    const allowed = [folder, ...TIERS.slice(0, rank).flat()];
    return {
      name: `layer-${folder}`,
      comment:
        `src/${folder}/ (tier ${rank}) may import only src/{${allowed.join(',')}}/: ` +
        'a lower layer never imports from a higher one (see .dependency-cruiser.cjs).',
      severity: 'error',
      from: { path: `^src/${folder}/` },
      to: { path: '^src/', pathNot: `^src/(${allowed.join('|')})/` },
    };
  }),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not depend on each other in a cycle, within a folder or across folders.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'unknown-folder',
      comment: 'Every folder under src/ must have a place in the tiers of .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/(${TIERS.flat().join('|')})/` },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that cannot be resolved is a typo or a missing package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    ...layerRules,
    {
      name: 'transport-no-protocol',
      comment:
        'src/transport/ knows bytes, lines, links and the handshake, not a protocol: it takes a Codec ' +
        '(src/transport/codec.ts). Put message types and their checks in src/wire/, clients in src/client/.',
      severity: 'error',
      from: { path: '^src/transport/' },
      to: { path: '^src/(core|log|sm|lincheck|wire|client)/' },
    },
    {
      name: 'log-not-lab',
      comment:
        'The replicated log (src/log/) imports nothing of the lab core (src/core/): what both need ' +
        '(ids, limits, the log line format) lives in src/paxos/ or src/util/.',
      severity: 'error',
      from: { path: '^src/log/' },
      to: { path: '^src/core/' },
    },
    {
      name: 'cli-no-storage',
      comment:
        'src/cli/ parses flags into settings (src/config/settings.ts) and hands them to the daemon ' +
        '(src/daemon/launch.ts), which opens storage: the command line never builds storage itself.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/storage/' },
    },
    {
      name: 'rules-through-one-module',
      comment:
        'src/ui/, src/viz/ and src/tools/ use the protocols (src/core, src/log, src/sm, src/paxos) only through ' +
        'src/rules/index.ts, so none of them re-implements a rule; export what you need from there.',
      severity: 'error',
      from: { path: '^src/(ui|viz|tools)/' },
      to: { path: '^src/(core|log|sm|paxos)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too: a type-only import still ties one layer to another.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
