// The bench's fake OpenAI node: test/support/fake-backend.ts (from the dist/ snapshot) with the
// scripts the bench needs. Run by bench/run.js:
//   node bench/lib/fake-node.js DIST_DIR PORT
// Prompts containing
//   "bench-stream"  stream: a role chunk at once, then BENCH_FAKE_STREAM_TOKENS content tokens
//                   BENCH_FAKE_TTFT_MS apart (first token after TTFT, the last after
//                   TTFT x tokens: 200 ms and 6 tokens give a 1.2 s stream)
//   "bench-large"   stream: BENCH_FAKE_LARGE_MB MiB of 8 KiB tokens, written as fast as possible
//   anything else   a chat completion at once (or a stream, with "stream": true)
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [distDir, portArg] = process.argv.slice(2);
const { FakeBackend } = await import(
  pathToFileURL(path.join(distDir, 'test/support/fake-backend.js')).href
);
const ttftMs = Number(process.env.BENCH_FAKE_TTFT_MS ?? 200);
const streamTokens = Number(process.env.BENCH_FAKE_STREAM_TOKENS ?? 6);
const largeMb = Number(process.env.BENCH_FAKE_LARGE_MB ?? 16);

const backend = await FakeBackend.start({ port: Number(portArg), models: ['fake-model'] });
backend.script('bench-stream', {
  type: 'stream',
  tokens: ['', ...Array.from({ length: streamTokens }, (_, i) => ` token${i + 1}`)],
  intervalMs: ttftMs,
});
const token = 'x'.repeat(8192);
backend.script('bench-large', {
  type: 'stream',
  tokens: Array.from({ length: largeMb * 128 }, () => token),
  intervalMs: 0,
});
// The fake records every request for the tests' assertions; the bench sends millions.
setInterval(() => {
  backend.requests.length = 0;
}, 1000).unref();
console.log(`fake node listening: ${backend.url}`);
const stop = () => void backend.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
