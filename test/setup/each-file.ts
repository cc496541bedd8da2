// Vitest setupFiles: runs in the worker before each test file. Its afterAll runs after the file's own
// (hooks after tests run in reverse order), so servers and gateways are closed before their folders go.
import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/tmp.js';
import { killLeftovers } from '../helpers/spawn.js';

afterAll(async () => {
  await killLeftovers();
  removeTempDirs();
});
