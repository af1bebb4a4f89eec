import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { eventually } from './infq-harness.js';

const MAIN = resolve(import.meta.dirname, '../../dist/src/main.js');

/** The built server (`npm run build`) as a child process, for tests that kill or restart it. */
export class InfqProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly output: string[],
  ) {}

  static async start(env: Record<string, string>): Promise<InfqProcess> {
    const port = env.PORT && env.PORT !== '0' ? Number(env.PORT) : await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const url = `http://127.0.0.1:${port}`;
    const instance = new InfqProcess(child, url, output);
    await eventually(async () => {
      if (child.exitCode !== null)
        throw new Error(`infq exited ${child.exitCode}: ${output.join('')}`);
      const response = await fetch(`${url}/health`);
      if (response.status !== 200) throw new Error(`health ${response.status}`);
    }, 30_000);
    return instance;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    await exited;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}
