// Child processes, ports and polling for bench/run.js.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const state = { interrupted: false };

/**
 * A child process whose output is kept (last 64 KiB) and which stops with SIGTERM (SIGKILL after
 * 15 s). `command` defaults to this Node binary.
 */
export async function startProcess(
  name,
  args,
  extraEnv,
  { command = process.execPath, cwd, log } = {},
) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopping = false;
  let exit;
  const keep = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-65_536);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exit = code ?? signal;
      if (!stopping && !state.interrupted)
        log?.(`${name} exited unexpectedly (${exit}):\n${output}`);
      resolve(exit);
    }),
  );
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    name,
    pid: child.pid,
    /** Exit code (or signal name) once exited, else undefined. */
    exitCode: () => exit,
    get exited() {
      return exit !== undefined;
    },
    output: () => output,
    rssMb: () => rssMb(child.pid),
    stop: async (signal = 'SIGTERM') => {
      stopping = true;
      if (exit === undefined) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident memory of a process in MiB, from /proc (null elsewhere or once it has exited). */
export function rssMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
  } catch {
    return null;
  }
}

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `probe` every 100 ms until it returns something truthy; connection errors are retried. */
export async function waitFor(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
      if (!(error instanceof TypeError)) throw error; // fetch's "connection refused" is a TypeError
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(100);
  }
}
