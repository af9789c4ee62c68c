import { defineConfig } from 'vitest/config';

// onnxruntime-node needs real child processes (the default `forks` pool): VM-based pools break
// its native typed-array checks.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'runs/**'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
