#!/usr/bin/env node
// Summarises a V8 .cpuprofile (written by `node --cpu-prof`): self time by function and by
// package, optionally only for samples taken within a time window.
//
//   node bench/lib/cpuprofile.js FILE.cpuprofile [--from=MS] [--to=MS] [--top=20]
//
// MS counts from the start of the profile (which `--cpu-prof` starts as the process starts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, table } from './format.js';

/**
 * Self time per function (name + file:line) and per package, in ms and % of the sampled time.
 * `fromMs`/`toMs` keep only the samples taken in that window (ms since the profile started).
 */
export function summariseProfile(profile, { fromMs = 0, toMs = Infinity, top = 20 } = {}) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  let at = profile.startTime;
  let totalUs = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    // A sample's weight is the time until the next one (the last one gets the mean).
    const next = timeDeltas[i + 1] ?? (profile.endTime - profile.startTime) / samples.length;
    const since = (at - profile.startTime) / 1000;
    if (since < fromMs || since > toMs) continue;
    const weight = Math.max(0, next);
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + weight);
    totalUs += weight;
  }
  const byFunction = new Map();
  const byPackage = new Map();
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) continue;
    const name = frame.functionName || '(anonymous)';
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = packageOf(frame);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const rows = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([key, us]) => ({ key, ms: us / 1000, pct: totalUs > 0 ? (us / totalUs) * 100 : 0 }));
  return {
    sampledMs: totalUs / 1000,
    functions: rows(byFunction)
      .slice(0, top)
      .map(({ key, ms, pct }) => {
        const [name, where] = key.split('\u0000');
        return { name, where, ms, pct };
      }),
    packages: rows(byPackage)
      .slice(0, top)
      .map(({ key, ms, pct }) => ({ name: key, ms, pct })),
  };
}

/** Where a frame's code comes from: a package, infq itself, Node's internals or V8's buckets. */
function packageOf(frame) {
  const url = frame.url;
  if (!url) {
    // (garbage collector), (program), (idle), (root) and native functions.
    return frame.functionName.startsWith('(') ? frame.functionName : '(native code: builtins, I/O)';
  }
  if (url.startsWith('node:') || !url.includes('/')) return 'node internals';
  const marker = '/node_modules/';
  const index = url.lastIndexOf(marker);
  if (index >= 0) {
    const parts = url.slice(index + marker.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.includes('/dist/src/')) return 'infq (dist/src)';
  return shortUrl(url);
}

function shortUrl(url) {
  if (url.startsWith('node:')) return url;
  const plain = url.replace(/^file:\/\//, '');
  for (const marker of ['/node_modules/', '/dist/']) {
    const index = plain.lastIndexOf(marker);
    if (index >= 0) return plain.slice(index + 1);
  }
  return path.basename(plain);
}

/** Markdown lines: the top functions and the top packages by self time, as tables. */
export function renderProfileSummary(summary, title) {
  const functions = table(
    ['function (self time)', 'where', 'ms', '%'],
    summary.functions.map((f) => [
      `\`${f.name.replace(/[|`]/g, '_')}\``,
      f.where || '-',
      fmt(f.ms, 0),
      fmt(f.pct, 1),
    ]),
  );
  const packages = table(
    ['package (self time)', 'ms', '%'],
    summary.packages.slice(0, 12).map((p) => [p.name, fmt(p.ms, 0), fmt(p.pct, 1)]),
  );
  return [
    `#### ${title} (${fmt(summary.sampledMs, 0)} ms sampled)`,
    '',
    functions,
    '',
    packages,
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error(
      'usage: node bench/lib/cpuprofile.js FILE.cpuprofile [--from=MS] [--to=MS] [--top=N]',
    );
    process.exit(1);
  }
  const flag = (name, fallback) => {
    const found = args.find((a) => a.startsWith(`--${name}=`));
    return found ? Number(found.split('=')[1]) : fallback;
  };
  const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')), {
    fromMs: flag('from', 0),
    toMs: flag('to', Infinity),
    top: flag('top', 20),
  });
  console.log(renderProfileSummary(summary, path.basename(file)));
}
