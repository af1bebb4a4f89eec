import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config.js';

describe('first admin configuration', () => {
  it('is off unless both variables are set', () => {
    expect(loadConfig({}).firstAdmin).toBeUndefined();
  });

  it('normalises the email', () => {
    const config = loadConfig({
      ADMIN_EMAIL: ' Ops@Example.com ',
      ADMIN_PASSWORD: 'long password 1',
    });
    expect(config.firstAdmin).toEqual({ email: 'ops@example.com', password: 'long password 1' });
  });

  it.each([
    [{ ADMIN_EMAIL: 'ops@example.com' }, /ADMIN_PASSWORD.*together/],
    [{ ADMIN_PASSWORD: 'long password 1' }, /ADMIN_EMAIL.*together/],
    [
      { ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'long password 1' },
      /ADMIN_EMAIL="not-an-email"/,
    ],
  ])('stops start-up naming the variable: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never echoes a password back', () => {
    const env = { ADMIN_EMAIL: 'ops@example.com', ADMIN_PASSWORD: 'tiny-secret' };
    expect(() => loadConfig(env)).toThrow(/ADMIN_PASSWORD=\(hidden\): must be at least 12/);
    expect(() => loadConfig(env)).toThrow(/^(?![\s\S]*tiny-secret)/);
  });
});
