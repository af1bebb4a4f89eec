// Why infq does not use rate-limiter-flexible for rpm: its limiters are fixed-window, so a burst
// straddling a window boundary gets twice the limit through within moments. This measures that
// against the same Redis infq uses. Run: node bench/limiter-window.js
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

const POINTS = 20; // "20 requests per window", the contract's default rpm
const WINDOW_S = 2; // scaled down from 60 s so the run takes seconds; the effect is the same
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const limiter = new RateLimiterRedis({
  storeClient: redis,
  keyPrefix: `infq-bench-rlf-${process.pid}`,
  points: POINTS,
  duration: WINDOW_S,
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const accepted = [];
async function burst(count) {
  for (let index = 0; index < count; index++) {
    try {
      await limiter.consume('tenant');
      accepted.push(Date.now());
    } catch {
      // refused
    }
  }
}

// Open a window, then burst just before it closes and again just after.
await limiter.consume('tenant');
accepted.push(Date.now());
await sleep(WINDOW_S * 1000 - 150);
await burst(POINTS * 2);
await sleep(200);
await burst(POINTS * 2);

let worst = 0;
for (const start of accepted) {
  const inWindow = accepted.filter((at) => at >= start && at < start + WINDOW_S * 1000).length;
  worst = Math.max(worst, inWindow);
}
console.log(`limit: ${POINTS} per ${WINDOW_S} s window`);
console.log(`most requests accepted in any ${WINDOW_S} s span (fixed window): ${worst}`);
console.log(`a sliding window (infq's limits store) never exceeds ${POINTS} in any such span`);
redis.disconnect();
