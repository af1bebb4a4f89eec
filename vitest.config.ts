import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// End-to-end files that drive a CPU-heavy load, measure latency against a baseline, or load two
// infq processes on one PostgreSQL run one at a time, after the rest: another file's load must
// not skew what they measure, nor its connections exhaust PostgreSQL's default 100.
const SERIAL_E2E = [
  'test/e2e/limits.recovery.e2e-spec.ts',
  'test/e2e/limits.cluster.e2e-spec.ts',
  'test/e2e/dispatch.crash.e2e-spec.ts',
  'test/e2e/reliability-auth.e2e-spec.ts',
  'test/e2e/reliability-sign-in.e2e-spec.ts',
  'test/e2e/reliability-cancel.e2e-spec.ts',
  'test/e2e/reliability-streams.redis.e2e-spec.ts',
  'test/e2e/reliability-streams.postgres.e2e-spec.ts',
  'test/e2e/reliability-redis-faults.e2e-spec.ts',
  'test/e2e/reliability-postgres-restart.e2e-spec.ts',
  'test/e2e/reliability-restarts.e2e-spec.ts',
];

const e2e = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks',
} as const;

export default defineConfig({
  // SWC keeps decorator metadata, which Nest's dependency injection needs.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.spec.ts', 'scripts/**/*.spec.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Most end-to-end files spend their time waiting on timers and other processes: two at
        // once on a 2-core machine.
        extends: true,
        test: {
          ...e2e,
          name: 'e2e',
          include: ['test/e2e/**/*.e2e-spec.ts'],
          exclude: SERIAL_E2E,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          ...e2e,
          name: 'e2e-serial',
          include: SERIAL_E2E,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
