// The end-to-end tests (test/e2e/): each spawns the paxos CLI or real peer
// processes. One file at a time, so no two clusters of real processes fight
// over the cores, and with a timeout (ava's: no test result for this long)
// that a machine busy with other work does not reach. `npm test` runs these
// after the unit and integration tests (package.json's "ava" block):
//   npx ava --config ava.e2e.config.js [test/e2e/FILE.test.ts]
export default {
  typescript: {
    rewritePaths: { 'test/': 'dist/test/' },
    compile: false,
  },
  files: ['test/e2e/**/*.test.ts'],
  concurrency: 1,
  timeout: '10m',
};
