import { describe, expect, it } from 'vitest';
import { loadConfig } from './app-config.js';
import { ConfigError } from './bus-nodes.js';
import { redactCredentials } from './redact-credentials.js';

describe('redactCredentials', () => {
  it.each([
    ['postgres://infq:s3cret@db:5432/infq', 'postgres://***@db:5432/infq'],
    ['postgres://infq:p@ss@db/infq', 'postgres://***@db/infq'],
    ['redis://:s3cret@cache:6379', 'redis://***@cache:6379'],
    ['postgres//infq:s3cret@db', '***@db'],
    ['mysql://user:pw@host', 'mysql://***@host'],
    ['http://a:b@n1:8000/v1=2,http://n2:8000/v1', 'http://***@n1:8000/v1=2,http://n2:8000/v1'],
    ['postgres://db:5432/infq', 'postgres://db:5432/infq'],
    ['', ''],
  ])('%s → %s', (value, shown) => {
    expect(redactCredentials(value)).toBe(shown);
  });
});

describe('loadConfig with a bad URL', () => {
  it.each([
    ['DATABASE_URL', 'mysql://infq:s3cret@db/infq'],
    ['REDIS_URL', 'http://:s3cret@cache:6379'],
    ['BUS_NODES', 'ftp://user:s3cret@node/v1'],
  ])('names %s without its password', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      expect((error as Error).message).toContain(name);
      expect((error as Error).message).toContain('***@');
      expect((error as Error).message).not.toContain('s3cret');
    }
  });
});
