import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the heap grow past what survived its last full collection. Its default
 * (a factor of up to 4, set by allocation speed) kept a busy process at 400–450 MiB RSS with
 * under 100 MiB of live data; at 50 % a 50,000-line batch peaks at about 250 MiB with the same
 * throughput. 20 % held 235 MiB but cost a quarter of the queued-POST rate (more full
 * collections); bench/RESULTS.md has both. Set here, not on the command line, so it holds
 * however infq is started; `node --heap-growing-percent=N` still wins.
 */
const HEAP_GROWING_PERCENT = 50;

if (!process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
