import { describe, expect, it } from 'vitest';
import { loadConfig } from './app-config.js';
import { ConfigError, parseBusNodes } from './bus-nodes.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      http: { port: 8080, host: '0.0.0.0', maxBodyBytes: 1_048_576 },
      database: { url: undefined, dataDir: './data' },
      redis: { url: undefined },
      retry: { baseMs: 10_000, maxMs: 300_000, maxRetries: 50 },
      upstream: { busNodes: [], timeoutMs: 120_000 },
      limits: { defaultRpm: 20, defaultTokensPerDay: 100_000, defaultMaxConcurrent: 2 },
      retention: {
        resultTtlS: 86_400,
        deadTtlS: 604_800,
        deadLetterBytesPerTenant: 67_108_864,
      },
      syncWaitMaxS: 600,
      adminToken: undefined,
      mode: 'all',
      workerConcurrency: 64,
      shutdownDrainMs: 5_000,
    });
    expect(Object.isFrozen(config.retry)).toBe(true);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'localhost:6379'],
    ['MAX_RETRIES', '-1'],
    ['RETRY_BASE_MS', '1.5'],
    ['MODE', 'both'],
    ['WORKER_CONCURRENCY', '0'],
    ['SHUTDOWN_DRAIN_MS', '60000'],
    ['PISTACHIO_URL', 'ftp://pistachio'],
  ])('refuses %s=%s, naming the variable and the value', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(`${name}=${JSON.stringify(value)}`);
  });

  it('never echoes a secret in its message', () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'short' })).toThrow('ADMIN_TOKEN=(hidden)');
  });
});

describe('parseBusNodes', () => {
  it.each([
    ['', []],
    ['http://a:8000/v1', [{ url: 'http://a:8000/v1', stake: 1, maxInflight: 64 }]],
    [
      'http://a/v1=100, http://b/v1/=40',
      [
        { url: 'http://a/v1', stake: 100, maxInflight: 64 },
        { url: 'http://b/v1', stake: 40, maxInflight: 64 },
      ],
    ],
    ['https://a/v1=2.5', [{ url: 'https://a/v1', stake: 2.5, maxInflight: 64 }]],
    ['https://a/v1=3:4', [{ url: 'https://a/v1', stake: 3, maxInflight: 4 }]],
  ])('%j', (value, nodes) => expect(parseBusNodes(value, 64)).toEqual(nodes));

  it.each([
    ['not-a-url', 'BUS_NODES entry "not-a-url"'],
    ['http://a/v1=0', 'BUS_NODES entry "http://a/v1=0"'],
    ['http://a/v1=lots', 'BUS_NODES entry "http://a/v1=lots"'],
    ['http://a/v1=1:0', 'MAX must be a positive integer'],
    ['http://a/v1=1:x', 'MAX must be a positive integer'],
    ['http://a/v1,http://a/v1', 'listed twice'],
  ])('refuses %j, naming the entry', (value, message) => {
    expect(() => parseBusNodes(value, 64)).toThrow(message);
  });
});
