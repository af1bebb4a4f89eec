// What the standalone bench scripts (batch.js, ab.js) share: flags, cleanup, logging, and the
// administrative PostgreSQL connection.
import pg from 'pg';

/**
 * Reads `--name=value` flags; any other argument stops the script. Returns `option(name,
 * fallback)`.
 */
export function parseFlags(script, names) {
  const args = process.argv.slice(2);
  for (const arg of args) {
    if (!names.some((name) => arg.startsWith(`--${name}=`))) {
      fail(
        script,
        `unknown argument ${arg} (flags: ${names.map((name) => `--${name}=`).join(' ')})`,
      );
    }
  }
  return (name, fallback) => {
    const found = args.find((arg) => arg.startsWith(`--${name}=`));
    return found === undefined ? fallback : found.slice(name.length + 3);
  };
}

/** Runs `main(cleanups)`, then every function pushed to `cleanups`, last first, whatever happens. */
export async function runWithCleanups(main) {
  const cleanups = [];
  try {
    await main(cleanups);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/** One statement on a short-lived connection (CREATE / DROP DATABASE). */
export async function adminQuery(url, sql) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A logger writing `[tag hh:mm:ss] message` to stderr. */
export function logger(tag) {
  return (message) =>
    console.error(`[${tag} ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

export function fail(script, message) {
  console.error(`${script}: ${message}`);
  process.exit(1);
}
