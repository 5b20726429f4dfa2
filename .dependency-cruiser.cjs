// dependency-cruiser rules for src/: the layers, bottom to top, and no cycles.
// Run by `npm run lint` (and so by `npm test` and CI). bench/ and test/ are not
// checked: they may import anything.

// Each tier may import the tiers below it, and a folder may import itself;
// folders in the same tier stay independent of each other. Why each sits where:
const TIERS = [
  // 0. Pure and dependency-free: util (the Logger interface, passed in, never
  //    the daemon's), core (the Paxos state machines and the cluster model
  //    they read), sm (the key-value state machine), lincheck (the checker).
  ['util', 'core', 'sm', 'lincheck'],
  // 1. Built on core's types, without each other: config (parses the
  //    hostsfile into core's Cluster; ConfigError; flag parsing), log (the
  //    Multi-Paxos replica log).
  ['config', 'log'],
  // 2. storage (durable state): the lab peer's, and the replicated log's
  //    store of log records (so above log).
  ['storage'],
  // 3. Speak or read the protocol: node (the one node loop and the replica
  //    around the log core, over effects: no sockets, timers or disks),
  //    transport (wire, links, server), transcript (reads and checks peers'
  //    output).
  ['node', 'transport', 'transcript'],
  // 4. Put the pieces together: daemon (a peer's shell: transport + storage +
  //    the node loop), sim (the deterministic simulators: the node loop over a
  //    simulated clock, disk and network), runner (launches testcases, reads
  //    transcripts), viz (charts from transcripts).
  ['daemon', 'sim', 'runner', 'viz'],
  // 5. Test and fault tools built on the runner (nemesis, docker tests, the
  //    fault proxy). They start the CLI as a process, never import it.
  ['tools'],
  // 6. The live page: runs clusters (runner), injects faults (tools' proxy),
  //    draws charts (viz).
  ['ui'],
  // 7. The command line: the entry point, may use everything.
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
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too: a type-only import still ties one layer to another.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
