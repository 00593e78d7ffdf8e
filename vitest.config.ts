import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and ports; keep them from starving each other on 2 cores.
    fileParallelism: false,
    // In-process services log at warn: CI output stays readable; failures still show.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  },
});
