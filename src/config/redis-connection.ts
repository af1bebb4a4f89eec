/** ioredis options from a `redis://` URL. */
export function redisConnectionOptions(url: string): Record<string, unknown> {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    ...(parsed.username && { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password && { password: decodeURIComponent(parsed.password) }),
    db: Number(parsed.pathname.slice(1) || 0),
    ...(parsed.protocol === 'rediss:' && { tls: {} }),
    // BullMQ's blocking commands must not give up while Redis is briefly away.
    maxRetriesPerRequest: null,
  };
}
