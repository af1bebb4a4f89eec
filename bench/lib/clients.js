// HTTP clients for the stream, slow-reader and waiting-request measurements of bench/run.js.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

function post(url, headers, body, agent) {
  const target = new URL(url);
  return http.request({
    host: target.hostname,
    port: target.port,
    path: target.pathname + target.search,
    method: 'POST',
    agent,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...headers,
    },
  });
}

/**
 * `count` streaming chat completions opened at once, each on its own connection. Per stream:
 * the time to the first content token (the first SSE event whose delta has non-empty content,
 * since the role chunk comes first) and to `[DONE]`, in ms from sending the request.
 */
export async function concurrentStreams({ url, headers, body, count, timeoutMs = 60_000 }) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const one = () =>
    new Promise((resolve) => {
      const start = performance.now();
      let text = '';
      let ttftMs = null;
      let settled = false;
      const done = (result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const request = post(url, headers, body, agent);
      const timer = setTimeout(() => {
        request.destroy();
        done({ ok: false, error: 'timeout', ttftMs });
      }, timeoutMs);
      request.on('error', (error) => done({ ok: false, error: error.message, ttftMs }));
      request.on('response', (response) => {
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          text += chunk;
          if (ttftMs === null && /"content":"[^"]/.test(text)) ttftMs = performance.now() - start;
        });
        response.on('end', () => {
          const ok =
            response.statusCode === 200 && text.includes('data: [DONE]') && ttftMs !== null;
          done({
            ok,
            status: response.statusCode,
            ttftMs,
            totalMs: performance.now() - start,
            ...(!ok && { error: `status ${response.statusCode}: ${text.slice(0, 200)}` }),
          });
        });
        response.on('error', (error) => done({ ok: false, error: error.message, ttftMs }));
      });
      request.end(body);
    });
  try {
    return await Promise.all(Array.from({ length: count }, one));
  } finally {
    agent.destroy();
  }
}

/**
 * `count` large streams read slowly: `bytesPerTick` every `tickMs`, for `durationMs`; then the
 * connections are dropped. `sample()` is called every 250 ms meanwhile (e.g. to read a server's
 * RSS). Returns the bytes each client read and whether each got a 200.
 */
export async function slowReaders({
  url,
  headers,
  body,
  count,
  bytesPerTick,
  tickMs,
  durationMs,
  sample,
}) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const readers = Array.from({ length: count }, () => {
    const reader = { status: null, bytes: 0, error: null, request: null, timer: null };
    const request = post(url, headers, body, agent);
    reader.request = request;
    request.on('error', (error) => (reader.error ??= error.message));
    request.on('response', (response) => {
      reader.status = response.statusCode;
      response.pause();
      response.on('error', (error) => (reader.error ??= error.message));
      reader.timer = setInterval(() => {
        let got = 0;
        let chunk;
        while (got < bytesPerTick && (chunk = response.read()) !== null) got += chunk.length;
        reader.bytes += got;
      }, tickMs);
    });
    request.end(body);
    return reader;
  });
  const sampler = setInterval(sample, 250);
  await sleep(durationMs);
  clearInterval(sampler);
  sample();
  for (const reader of readers) {
    clearInterval(reader.timer);
    reader.request.destroy();
  }
  agent.destroy();
  return readers.map(({ status, bytes, error }) => ({ status, bytes, error }));
}

/**
 * `count` requests sent at once and held open until their answers come. Returns a promise per
 * request (status and ms to the answer) and a way to drop them all.
 */
export function holdRequests({ url, headers, body, count }) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const requests = [];
  const results = Array.from(
    { length: count },
    () =>
      new Promise((resolve) => {
        const start = performance.now();
        const request = post(url, headers, body, agent);
        requests.push(request);
        request.on('error', (error) =>
          resolve({ status: null, error: error.message, ms: performance.now() - start }),
        );
        request.on('response', (response) => {
          response.resume();
          response.on('end', () =>
            resolve({
              status: response.statusCode,
              at: performance.now(),
              ms: performance.now() - start,
            }),
          );
          response.on('error', (error) =>
            resolve({ status: null, error: error.message, ms: performance.now() - start }),
          );
        });
        request.end(body);
      }),
  );
  return {
    results,
    drop: () => {
      for (const request of requests) request.destroy();
      agent.destroy();
    },
  };
}
