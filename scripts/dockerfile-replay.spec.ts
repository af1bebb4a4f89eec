import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkDockerfile,
  dockerignoreMatcher,
  inRoot,
  listContext,
  missingPaths,
  parseDockerfile,
  replayStages,
} from './dockerfile-replay.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A build context in a temporary folder: each entry is a file path and its content. */
function context(files: Record<string, string>): string {
  const folder = mkdtempSync(join(tmpdir(), 'infq-dockerfile-spec-'));
  folders.push(folder);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, path)), { recursive: true });
    writeFileSync(join(folder, path), content);
  }
  return folder;
}

const lines = (...text: string[]): string => `${text.join('\n')}\n`;

/** A project shaped like infq: the root postinstall installs a second package. */
const PROJECT = {
  'package.json': JSON.stringify({ scripts: { postinstall: 'npm --prefix ui ci' } }),
  'package-lock.json': '{}',
  'ui/package.json': '{}',
  'ui/package-lock.json': '{}',
  'ui/node_modules/left-behind.js': '',
  'src/main.js': '',
  '.env': 'SECRET=1',
  '.dockerignore': lines('**/node_modules', '.env'),
};

describe('parseDockerfile', () => {
  it('joins continued lines, drops comments and reads flags, forms and stage names', () => {
    const stages = parseDockerfile(
      lines(
        '# syntax=docker/dockerfile:1',
        'FROM node:24-bookworm-slim AS Build',
        'WORKDIR /app',
        'ENV A=1 B="two words"',
        'RUN echo one \\',
        '  # a comment inside the continuation',
        '  && echo two',
        'FROM node:24-bookworm-slim',
        'COPY --from=build --chown=node /app/dist ./dist',
        'HEALTHCHECK --interval=5s CMD ["node", "-e", "1"]',
        'CMD ["node", "dist/main.js"]',
      ),
    );
    expect(stages.map((stage) => [stage.from.image, stage.from.name])).toEqual([
      ['node:24-bookworm-slim', 'build'],
      ['node:24-bookworm-slim', undefined],
    ]);
    const [workdir, env, run] = stages[0].instructions;
    expect(workdir).toMatchObject({ keyword: 'WORKDIR', value: '/app', line: 3 });
    expect(env.pairs).toEqual([
      ['A', '1'],
      ['B', 'two words'],
    ]);
    expect(run).toMatchObject({ keyword: 'RUN', line: 5, command: 'echo one   && echo two' });
    const [copy, healthcheck, cmd] = stages[1].instructions;
    expect(copy).toMatchObject({
      flags: { from: 'build', chown: 'node' },
      sources: ['/app/dist'],
      destination: './dist',
    });
    expect(healthcheck).toMatchObject({ flags: { interval: '5s' }, command: ['node', '-e', '1'] });
    expect(cmd.command).toEqual(['node', 'dist/main.js']);
  });

  it('refuses an unknown instruction, naming its line', () => {
    expect(() => parseDockerfile(lines('FROM node', 'COPPY a b'))).toThrow(
      'Dockerfile:2: unknown instruction COPPY',
    );
  });
});

describe('dockerignoreMatcher', () => {
  it.each([
    ['node_modules/x/index.js', true],
    ['admin-ui/node_modules/vite/bin.js', true],
    ['admin-ui/dist/index.html', true],
    ['dist/src/main.js', true],
    ['.env', true],
    ['.env.local', true],
    ['.env.example', false],
    ['admin-ui/src/app.tsx', false],
    ['src/main.ts', false],
  ])('%s excluded: %s', (path, excluded) => {
    const isIgnored = dockerignoreMatcher(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    expect(isIgnored(path)).toBe(excluded);
  });
});

describe('checkDockerfile', () => {
  const check = (files: Record<string, string>, dockerfile: string): string[] =>
    checkDockerfile(parseDockerfile(dockerfile), context(files));

  it('passes manifests copied before the install that needs them', () => {
    const problems = check(
      PROJECT,
      lines(
        'FROM node AS build',
        'WORKDIR /app',
        'COPY package.json package-lock.json ./',
        'COPY ui/package.json ui/package-lock.json ./ui/',
        'RUN npm ci',
        'COPY src ./src',
        'FROM node',
        'COPY --from=build /app/src ./src',
      ),
    );
    expect(problems).toEqual([]);
  });

  it('fails when a manifest the postinstall needs is copied too late', () => {
    const problems = check(
      PROJECT,
      lines(
        'FROM node',
        'WORKDIR /app',
        'COPY package.json package-lock.json ./',
        'RUN npm ci --no-audit',
        'COPY . .',
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^Dockerfile:4: RUN npm ci .* needs ui\/package\.json \(the postinstall/,
      ),
      expect.stringMatching(/^Dockerfile:4: RUN npm ci .* needs ui\/package-lock\.json/),
    ]);
  });

  it('fails when the lockfile is forgotten', () => {
    const problems = check(
      PROJECT,
      lines('FROM node', 'COPY package.json ./', 'RUN npm ci --ignore-scripts'),
    );
    expect(problems).toEqual([expect.stringMatching(/^Dockerfile:3: .* needs package-lock\.json/)]);
  });

  it('fails on a COPY of something missing or left out by .dockerignore', () => {
    const problems = check(
      PROJECT,
      lines('FROM node', 'COPY missing.txt ./', 'COPY .env ./', 'COPY ui/node_modules ./x/'),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^Dockerfile:2: COPY missing\.txt: not in the build context/),
      expect.stringMatching(/^Dockerfile:3: COPY \.env: not in the build context/),
      expect.stringMatching(/^Dockerfile:4: COPY ui\/node_modules: not in the build context/),
    ]);
  });

  it('fails on COPY --from a stage that does not exist or comes later', () => {
    const problems = check(
      PROJECT,
      lines(
        'FROM node AS one',
        'COPY --from=two /app ./',
        'FROM node AS two',
        'COPY --from=nope /x ./',
      ),
    );
    expect(problems).toEqual([
      'Dockerfile:2: COPY --from=two names no earlier stage',
      'Dockerfile:4: COPY --from=nope names no earlier stage',
    ]);
  });

  it("accepts the project's own Dockerfile, and refuses the one that ran npm ci before admin-ui/ was there", () => {
    const ours = parseDockerfile(readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8'));
    expect(checkDockerfile(ours, ROOT)).toEqual([]);
    const before = lines(
      'FROM node:20-bookworm-slim AS build',
      'WORKDIR /app',
      'COPY package.json package-lock.json ./',
      'RUN npm ci --no-audit --no-fund',
      'COPY . .',
      'RUN npm run build && npm prune --omit=dev',
    );
    expect(checkDockerfile(parseDockerfile(before), ROOT)).toEqual([
      expect.stringContaining('Dockerfile:4: RUN npm ci --no-audit needs admin-ui/package.json'),
      expect.stringContaining(
        'Dockerfile:4: RUN npm ci --no-audit needs admin-ui/package-lock.json',
      ),
    ]);
  });

  it('lists the real context without host dependencies, builds or secrets', () => {
    const files = listContext(ROOT);
    expect(files).toContain('src/main.ts');
    expect(files).toContain('admin-ui/package-lock.json');
    expect(
      files.filter((file) => /(^|\/)(node_modules|dist)\/|^\.env$|^data\//.test(file)),
    ).toEqual([]);
  });
});

describe('replayStages', () => {
  const FILES = { 'ui/input.txt': 'from the context\n', 'left-out.txt': 'no' };
  const replay = async (dockerfile: string, files: Record<string, string> = FILES) => {
    const contextDir = context(files);
    const workDir = context({});
    const stage = await replayStages(parseDockerfile(dockerfile), {
      contextDir,
      workDir,
      baseEnv: { PATH: '/usr/bin:/bin' },
    });
    return stage;
  };

  it('copies exactly what each COPY names, runs each RUN in WORKDIR with ENV, and copies between stages', async () => {
    const stage = await replay(
      lines(
        'FROM node AS build',
        'WORKDIR /app',
        'ENV GREETING=hello',
        'COPY ui/input.txt ./ui/',
        'RUN cat ui/input.txt > built.txt && echo "$GREETING" >> built.txt && ls > listing.txt',
        'FROM node',
        'WORKDIR /srv',
        'COPY --from=build /app/built.txt ./',
        'CMD ["node", "built.txt"]',
      ),
    );
    expect(stage.workdir).toBe('/srv');
    expect(stage.cmd).toEqual(['node', 'built.txt']);
    expect(readFileSync(inRoot(stage.root, '/srv/built.txt'), 'utf8')).toBe(
      'from the context\nhello\n',
    );
    expect(missingPaths(stage, ['built.txt', 'left-out.txt', 'ui'])).toEqual([
      'left-out.txt',
      'ui',
    ]);
  });

  it('fails at the RUN that needs a file copied only after it', async () => {
    await expect(
      replay(
        lines('FROM node', 'WORKDIR /app', 'RUN cat ui/input.txt > built.txt', 'COPY ui ./ui'),
      ),
    ).rejects.toThrow('Dockerfile:3: RUN failed with exit code 1');
  });

  it('leaves a file out of the final stage when no COPY --from brings it', async () => {
    const stage = await replay(
      lines(
        'FROM node AS build',
        'WORKDIR /app',
        'COPY ui ./ui',
        'RUN cp ui/input.txt built.txt',
        'FROM node',
        'WORKDIR /app',
        'CMD ["node", "built.txt"]',
      ),
    );
    expect(missingPaths(stage, ['built.txt'])).toEqual(['built.txt']);
  });
});
