import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files start their own moto / sshd / HTTP test hosts on distinct addresses; two cores.
    maxWorkers: 2,
  },
});
