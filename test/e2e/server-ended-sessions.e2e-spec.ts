import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { POSTGRES_ADMIN_URL } from '../support/infq-harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const GUARD = resolve(ROOT, 'dist/src/database/server-ended-sessions.js');

/**
 * A process holding a connected pg client with no error listener (as a library may between two
 * of its queries), whose session the server then ends. Once the guard has logged the error (or
 * the process has exited), the process is asked to use the client again and report.
 */
async function endSessionUnder(guarded: boolean): Promise<{ code: number | null; output: string }> {
  const script = `
    import pg from 'pg';
    import { pino } from 'pino';
    if (${guarded}) (await import(${JSON.stringify(GUARD)})).surviveSessionsEndedByServer(pino());
    const client = new pg.Client({ connectionString: ${JSON.stringify(POSTGRES_ADMIN_URL)} });
    await client.connect();
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    process.stdin.once('data', async () => {
      await client.query('SELECT 1').catch((error) => console.log('next query: ' + error.message));
      console.log('alive');
      process.exit(0);
    });
    console.log('pid ' + rows[0].pid);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  let output = '';
  const seen = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((found) => {
      const check = () => {
        const match = pattern.exec(output);
        if (match) found(match);
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
    });
  const keep = (chunk: Buffer) => (output += chunk.toString());
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const pid = seen(/pid (\d+)/);
  const logged = seen(/reached no handler/);
  const exited = once(child, 'exit');
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [Number((await pid)[1])]);
  } finally {
    await admin.end();
  }
  await Promise.race([logged, exited]);
  if (child.exitCode === null) child.stdin.write('check\n');
  const [code] = (await exited) as [number | null];
  return { code, output };
}

describe('a PostgreSQL session ended by the server, on a client nobody listens to', () => {
  it('ends a process without the guard (what Node does)', async () => {
    const { code, output } = await endSessionUnder(false);
    expect(code, output).toBe(1);
    expect(output).toContain('terminating connection due to administrator command');
  });

  it('is logged and the process runs on with it', async () => {
    const { code, output } = await endSessionUnder(true);
    expect(code, output).toBe(0);
    expect(output).toContain('a PostgreSQL session ended by the server reached no handler');
    expect(output).toContain('next query: Client has encountered a connection error');
    expect(output).toContain('alive');
  });
});
