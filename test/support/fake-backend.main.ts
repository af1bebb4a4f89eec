import { FakeBackend } from './fake-backend.js';

// `npm run fake-backend`: a local OpenAI-compatible backend for trying infq by hand.
const port = Number(process.argv[2] ?? 9100);
const backend = await FakeBackend.start({ port, models: ['llama-3.3-70b', 'fake-model'] });
console.log(`fake backend listening: BUS_NODES=${backend.url}`);
console.log(
  'prompts containing "fail-twice" fail twice with 503; "always-fail" always 503; "bad-request" 400',
);
backend.script(
  'fail-twice',
  { type: 'status', status: 503 },
  { type: 'status', status: 503 },
  { type: 'ok' },
);
backend.script('always-fail', { type: 'status', status: 503 });
backend.script('bad-request', {
  type: 'status',
  status: 400,
  message: 'the fake backend rejects this prompt',
});
backend.script('slow', { type: 'ok', delayMs: 5_000 });
const stop = (): void => void backend.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
