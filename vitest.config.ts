import { defineConfig } from 'vitest/config';
import SummaryLineReporter from './test/support/summary-line-reporter.js';

// onnxruntime-node needs real child processes (the default `forks` pool): VM-based pools break
// its native typed-array checks.
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default', new SummaryLineReporter()],
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'runs/**'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
