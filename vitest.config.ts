import { configDefaults, defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/setup/sequencer.js';

// How the suite runs (2-core CI machine, usually shared with other work):
//
// - Test files run in parallel in forked workers (`parallel` project, PARALLEL_WORKERS at a time): most
//   of a file's time is spent waiting on child processes, sockets and timers, not on the CPU.
//   Files listed in RUN_ALONE run afterwards, one at a time, with nothing else running (`alone`
//   project): add a file there when it loads the CPU on purpose or stops/starts something the others
//   share (the local Redis, …).
// - Child processes: test/setup/global.ts compiles src/ and test/fixtures/ once per run (esbuild,
//   1–2 s; the gateway's entry and each fixture bundled).
//   Start a gateway or a fixture as a process through the helpers, never `node --import tsx …` by hand:
//     spawnListening(['bin/tollgate.mjs', 'serve', '--config', file, '--port', '0'])   // test/helpers/spawn.ts
//     spawnListening(['test/fixtures/feature-server.ts', '--port', '0'])
//     spawn(process.execPath, [...nodeArgs('test/fixtures/x.ts'), ...args])              // test/helpers/compiled.ts
//     `upstreams:\n  feat: { transport: stdio, command: node, args: [${nodeArgsYaml(FEATURE_SERVER)}, --stdio] }`
// - Temporary folders: tempDir() from test/helpers/tmp.ts (removed after the file). The whole run also
//   gets its own TMPDIR, removed at the end, so nothing a test or child makes is left behind.
// - Steady under load: wait on events (a LISTENING line, a 'ready' event, waitUntil on a state), never
//   on fixed sleeps or tight timeouts; budgets like Redis timeouts are generous unless the timeout
//   itself is what the test is about.
const RUN_ALONE = [
  // Loads the CPU (8 clients in tight loops) and kills upstream processes mid-load.
  'test/hardening/faults-under-load.test.ts',
];
// Files at a time in the parallel group; TOLLGATE_TEST_WORKERS overrides it (e.g. 2 on a machine busy
// with other work, 1 to run every file in turn). 4 was tried in session 9: the cores sit ~18% idle with
// 3, but the whole CI run then used more CPU (535 and 588 s against 483 s) and took longer.
const PARALLEL_WORKERS = Number(process.env.TOLLGATE_TEST_WORKERS) || 3;

// Options every project shares (projects do not use `extends: true`: it would concatenate `include`).
const shared = {
  // Bounds, not synchronisation: a test that passes never waits for them, and a machine loaded by other
  // work can take tens of seconds to start a few processes.
  testTimeout: 60_000,
  hookTimeout: 120_000,
  pool: 'forks',
  // A worker keeps its module cache from one file to the next (files still run in their own module
  // scope; only what they import is shared). Re-importing the SDK, Hono, zod and src/ for each of ~90
  // files cost about a quarter of the run's CPU (measured: 442 s -> 325 s of CPU for the whole suite,
  // unit tests 34 s -> 15 s), and the suite is CPU-bound on the 2-core machine. What this asks of
  // tests: restore what they change globally (fake timers, process.env), and keep state in objects
  // they create, not in module variables of src/.
  isolate: false,
  setupFiles: ['test/setup/each-file.ts'],
} as const;

export default defineConfig({
  test: {
    globalSetup: ['test/setup/global.ts'],
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    projects: [
      {
        test: {
          ...shared,
          name: 'parallel',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...RUN_ALONE],
          maxWorkers: PARALLEL_WORKERS,
          sequence: { groupOrder: 0, sequencer: SlowFirstSequencer },
        },
      },
      {
        test: { ...shared, name: 'alone', include: RUN_ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
