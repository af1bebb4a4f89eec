// Reads a Dockerfile and replays its stages in plain directories, the way a builder would, so
// the image can be checked on a machine without a Docker engine (`npm run check:docker`).
// Types for the TypeScript side (the unit test) are in dockerfile-replay.d.mts.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, resolve, sep } from 'node:path';

const KNOWN = new Set([
  'FROM',
  'WORKDIR',
  'COPY',
  'ADD',
  'RUN',
  'ENV',
  'ARG',
  'USER',
  'EXPOSE',
  'HEALTHCHECK',
  'CMD',
  'ENTRYPOINT',
  'LABEL',
  'SHELL',
  'STOPSIGNAL',
  'VOLUME',
  'ONBUILD',
]);

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

export class DockerfileError extends Error {
  /** @param {string[]} problems */
  constructor(problems) {
    super(problems.join('\n'));
    this.name = 'DockerfileError';
    this.problems = problems;
  }
}

/** Splits a Dockerfile into instructions, joining continued lines and dropping comments. */
export function parseDockerfile(text) {
  const instructions = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (/^\s*(#|$)/.test(line)) continue;
    const startLine = index + 1;
    let joined = line;
    while (/\\\s*$/.test(joined) && index + 1 < lines.length) {
      joined = joined.replace(/\\\s*$/, '');
      index++;
      // Comment lines inside a continued instruction are dropped, as BuildKit does.
      while (index < lines.length && /^\s*#/.test(lines[index])) index++;
      if (index < lines.length) joined += lines[index];
    }
    const match = /^\s*(\S+)\s*(.*)$/s.exec(joined.replace(/\\\s*$/, ''));
    const keyword = match[1].toUpperCase();
    const rest = match[2].trim();
    if (!KNOWN.has(keyword))
      throw new DockerfileError([`Dockerfile:${startLine}: unknown instruction ${match[1]}`]);
    instructions.push({ line: startLine, keyword, ...parseArguments(keyword, rest, startLine) });
  }
  return groupStages(instructions);
}

function parseArguments(keyword, rest, line) {
  switch (keyword) {
    case 'FROM': {
      const words = rest.split(/\s+/).filter((word) => !word.startsWith('--'));
      const as = words.findIndex((word) => word.toUpperCase() === 'AS');
      return { image: words[0], name: as > 0 ? words[as + 1]?.toLowerCase() : undefined };
    }
    case 'COPY':
    case 'ADD': {
      const { flags, remainder } = takeFlags(rest);
      const words = execForm(remainder) ?? remainder.split(/\s+/).filter(Boolean);
      if (words.length < 2)
        throw new DockerfileError([
          `Dockerfile:${line}: ${keyword} needs a source and a destination`,
        ]);
      return { flags, sources: words.slice(0, -1), destination: words.at(-1) };
    }
    case 'RUN': {
      const { flags, remainder } = takeFlags(rest);
      return { flags, command: execForm(remainder) ?? remainder };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { command: execForm(rest) ?? rest };
    case 'ENV':
      return { pairs: parsePairs(rest, true) };
    case 'ARG':
      return { pairs: parsePairs(rest, false) };
    case 'HEALTHCHECK': {
      const { flags, remainder } = takeFlags(rest);
      if (/^NONE$/i.test(remainder)) return { flags, command: undefined };
      const cmd = /^CMD\s+(.*)$/is.exec(remainder);
      if (!cmd) throw new DockerfileError([`Dockerfile:${line}: HEALTHCHECK needs CMD or NONE`]);
      return { flags, command: execForm(cmd[1]) ?? cmd[1] };
    }
    default:
      return { value: rest };
  }
}

function takeFlags(rest) {
  const flags = {};
  let remainder = rest;
  for (let match; (match = /^--([\w-]+)(?:=(\S*))?\s+/.exec(remainder));) {
    flags[match[1]] = match[2] ?? 'true';
    remainder = remainder.slice(match[0].length);
  }
  return { flags, remainder: remainder.trim() };
}

function execForm(text) {
  if (!text.startsWith('[')) return undefined;
  try {
    const parsed = JSON.parse(text);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')
      ? parsed
      : undefined;
  } catch {
    return undefined;
  }
}

/** `ENV a=1 b="two words"`, or the legacy `ENV name value with spaces`. */
function parsePairs(text, legacyAllowed) {
  const pairs = [];
  if (legacyAllowed && !/^[\w.-]+=/.test(text)) {
    const match = /^(\S+)\s+(.*)$/s.exec(text);
    if (match) return [[match[1], unquote(match[2])]];
  }
  const pattern = /([\w.-]+)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/g;
  for (let match; (match = pattern.exec(text));)
    pairs.push([match[1], match[2] === undefined ? undefined : unquote(match[2])]);
  return pairs;
}

function unquote(value) {
  if (/^".*"$/s.test(value)) return value.slice(1, -1).replace(/\\(.)/g, '$1');
  if (/^'.*'$/s.test(value)) return value.slice(1, -1);
  return value;
}

function groupStages(instructions) {
  const stages = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      stages.push({ index: stages.length, from: instruction, instructions: [] });
    } else if (instruction.keyword !== 'ARG' || stages.length > 0) {
      if (stages.length === 0)
        throw new DockerfileError([
          `Dockerfile:${instruction.line}: ${instruction.keyword} before FROM`,
        ]);
      stages.at(-1).instructions.push(instruction);
    }
  }
  if (stages.length === 0) throw new DockerfileError(['Dockerfile: no FROM']);
  return stages;
}

/** Expands `$NAME`, `${NAME}` and `${NAME:-default}` from a stage's ENV and ARG values. */
function expand(text, variables) {
  return text.replace(/\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (_all, braced, fallback, bare) => {
    const value = variables[braced ?? bare];
    return value === undefined || value === '' ? (fallback ?? '') : value;
  });
}

/**
 * A `.dockerignore` as a predicate over context-relative paths ("a/b.txt"). Patterns are
 * anchored at the context root; `**` spans folders, `!` re-includes; the last match wins, and a
 * folder's exclusion covers everything under it.
 */
export function dockerignoreMatcher(text) {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = posix
        .normalize(line.slice(negated ? 1 : 0).replace(/^\/+/, ''))
        .replace(/\/+$/, '');
      return { negated, regex: globToRegex(pattern) };
    });
  return (path) => {
    const parts = path.split('/');
    let excluded = false;
    for (let depth = 1; depth <= parts.length; depth++) {
      const prefix = parts.slice(0, depth).join('/');
      for (const rule of rules) if (rule.regex.test(prefix)) excluded = !rule.negated;
      // An excluded folder stays excluded for its contents unless a later rule names them.
      if (excluded && depth < parts.length && !rules.some((rule) => rule.negated)) return true;
    }
    return excluded;
  };
}

function globToRegex(pattern) {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === '*' && pattern[index + 1] === '*') {
      index++;
      if (pattern[index + 1] === '/') {
        index++;
        source += '(?:.*/)?';
      } else source += '.*';
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Every file of the build context that survives `.dockerignore`, as sorted relative paths. */
export function listContext(contextDir) {
  const ignorePath = join(contextDir, '.dockerignore');
  const isIgnored = dockerignoreMatcher(
    existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '',
  );
  const files = [];
  const walk = (folder) => {
    for (const entry of readdirSync(join(contextDir, folder), { withFileTypes: true })) {
      const path = folder ? `${folder}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!isIgnored(path) || !isIgnored(`${path}/x`)) walk(path);
      } else if (!isIgnored(path)) files.push(path);
    }
  };
  walk('');
  return files.sort();
}

/**
 * Follows the stages with a model of each stage's files, without running anything: every COPY
 * must name something that is in the context (or in an earlier stage), and every `npm ci` or
 * `npm install` must already have the manifests its install scripts reach. Returns the
 * problems found, each naming its Dockerfile line.
 */
export function checkDockerfile(stages, contextDir) {
  const problems = [];
  const contextFiles = listContext(contextDir);
  const models = [];
  for (const stage of stages) {
    const base = findStage(stages, stage.from.image, stage.index);
    const model = {
      files: new Map(base === undefined ? [] : models[base].files),
      opaque: base === undefined ? false : models[base].opaque,
      workdir: '/',
      variables: {},
    };
    models.push(model);
    for (const instruction of stage.instructions) {
      const where = `Dockerfile:${instruction.line}`;
      switch (instruction.keyword) {
        case 'WORKDIR':
          model.workdir = posix.resolve(model.workdir, expand(instruction.value, model.variables));
          break;
        case 'ENV':
        case 'ARG':
          for (const [name, value] of instruction.pairs)
            model.variables[name] = value ?? model.variables[name] ?? '';
          break;
        case 'COPY':
        case 'ADD': {
          const destination = posix.resolve(
            model.workdir,
            expand(instruction.destination, model.variables),
          );
          const fromName = instruction.flags.from;
          if (fromName !== undefined) {
            const from = findStage(stages, fromName, stage.index);
            if (from === undefined) {
              problems.push(`${where}: COPY --from=${fromName} names no earlier stage`);
              break;
            }
            for (const source of instruction.sources) {
              const absolute = posix.resolve('/', expand(source, model.variables));
              const copied = copyModel(
                models[from].files,
                absolute,
                destination,
                instruction.sources.length > 1,
              );
              if (copied.size === 0 && !models[from].opaque)
                problems.push(
                  `${where}: COPY --from=${fromName} ${source}: stage "${fromName}" has no such path`,
                );
              for (const [path, origin] of copied) model.files.set(path, origin);
            }
            break;
          }
          for (const source of instruction.sources) {
            const matches = matchContext(contextFiles, expand(source, model.variables));
            if (matches.length === 0) {
              problems.push(
                `${where}: ${instruction.keyword} ${source}: not in the build context (missing, or excluded by .dockerignore)`,
              );
              continue;
            }
            const intoFolder =
              instruction.sources.length > 1 || instruction.destination.endsWith('/');
            for (const match of matches)
              model.files.set(landing(match, destination, intoFolder, matches.length), match.file);
          }
          break;
        }
        case 'RUN': {
          const command = Array.isArray(instruction.command)
            ? instruction.command.join(' ')
            : instruction.command;
          for (const need of installNeeds(command, model, contextDir)) {
            if (!hasPath(model.files, posix.resolve(model.workdir, need.path)))
              problems.push(
                `${where}: RUN ${firstWords(command)} needs ${need.path} (${need.why}), but no earlier COPY puts it in ${model.workdir}`,
              );
          }
          // A RUN may create any file: from here on, absence cannot be proven.
          model.opaque = true;
          break;
        }
        default:
          break;
      }
    }
  }
  return problems;
}

function firstWords(command) {
  return command.split(/\s+/).slice(0, 3).join(' ');
}

function findStage(stages, reference, before) {
  const found = stages.find(
    (stage, index) =>
      index < before &&
      (stage.from.name === reference?.toLowerCase() || String(index) === reference),
  );
  return found?.index;
}

/**
 * Context files a COPY source names: a file (lands as its own name), a folder (its contents
 * land inside the destination), or a `*` pattern. Each match says where it lands relative to
 * the destination, and whether the source named that very file.
 */
function matchContext(contextFiles, source) {
  const normalized = posix
    .normalize(source)
    .replace(/^(\.\/)+|^\/+/, '')
    .replace(/\/+$/, '');
  const matches = [];
  const whole = normalized === '.' || normalized === '';
  const regex = globToRegex(normalized);
  for (const file of contextFiles) {
    if (whole) {
      matches.push({ file, inside: file, named: false });
      continue;
    }
    const parts = file.split('/');
    for (let depth = 1; depth <= parts.length; depth++) {
      if (!regex.test(parts.slice(0, depth).join('/'))) continue;
      const named = depth === parts.length;
      matches.push({ file, inside: named ? parts.at(-1) : parts.slice(depth).join('/'), named });
      break;
    }
  }
  return matches;
}

/** Where a context match lands: a single named file may be renamed by a destination without `/`. */
function landing(match, destination, intoFolder, count) {
  return match.named && !intoFolder && count === 1
    ? destination
    : posix.join(destination, match.inside);
}

function copyModel(files, source, destination, intoFolder) {
  const copied = new Map();
  for (const [path, origin] of files) {
    if (path === source)
      copied.set(intoFolder ? posix.join(destination, posix.basename(path)) : destination, origin);
    else if (path.startsWith(`${source}/`))
      copied.set(posix.join(destination, path.slice(source.length + 1)), origin);
  }
  return copied;
}

function hasPath(files, path) {
  if (files.has(path)) return true;
  for (const file of files.keys()) if (file.startsWith(`${path}/`)) return true;
  return false;
}

/** What `npm ci` / `npm install` in this folder reads: the manifests, and those of `--prefix` folders its install scripts install. */
function installNeeds(command, model, contextDir) {
  if (!/\bnpm\s+(ci|install|i)\b/.test(command)) return [];
  const needs = [
    { path: 'package.json', why: 'npm reads it' },
    { path: 'package-lock.json', why: '`npm ci` installs what it pins' },
  ];
  if (/--ignore-scripts\b/.test(command)) return needs;
  const manifest = model.files.get(posix.resolve(model.workdir, 'package.json'));
  if (!manifest) return needs;
  const scripts = JSON.parse(readFileSync(join(contextDir, manifest), 'utf8')).scripts ?? {};
  for (const name of INSTALL_SCRIPTS) {
    const script = scripts[name];
    if (!script) continue;
    for (const match of script.matchAll(/(?:--prefix[=\s]+|\bcd\s+)([\w./-]+)/g)) {
      const folder = match[1];
      needs.push({
        path: posix.join(folder, 'package.json'),
        why: `the ${name} script runs \`${script}\``,
      });
      if (/\bnpm\s+(--prefix[=\s]+\S+\s+)?ci\b/.test(script))
        needs.push({
          path: posix.join(folder, 'package-lock.json'),
          why: `the ${name} script runs \`${script}\``,
        });
    }
  }
  return needs;
}

/**
 * Builds every stage in `workDir/<index>-<name>/` (the stage's `/`): copies exactly what each
 * COPY names from the context (minus `.dockerignore`) or an earlier stage, applies WORKDIR, ENV
 * and ARG, runs each RUN with `sh -c` in the stage's WORKDIR. `baseEnv` stands in for the base
 * image's environment. Returns the last stage with its root, WORKDIR, ENV, CMD and HEALTHCHECK.
 * With `execute: false`, nothing is copied or run: it describes stages replayed before.
 */
export async function replayStages(
  stages,
  { contextDir, workDir, baseEnv = {}, log = () => {}, execute = true },
) {
  const contextFiles = listContext(contextDir);
  const built = [];
  for (const stage of stages) {
    const root = join(workDir, `${stage.index}-${stage.from.name ?? 'stage'}`);
    const base = findStage(stages, stage.from.image, stage.index);
    if (execute) mkdirSync(root, { recursive: true });
    if (execute && base !== undefined)
      cpSync(built[base].root, root, { recursive: true, verbatimSymlinks: true });
    const state =
      base === undefined
        ? {
            root,
            workdir: '/',
            env: {},
            cmd: undefined,
            entrypoint: undefined,
            healthcheck: undefined,
          }
        : { ...built[base], root, env: { ...built[base].env } };
    const variables = () => ({ ...state.env, ...state.args });
    state.args = {};
    log(
      `stage ${stage.index}${stage.from.name ? ` (${stage.from.name})` : ''}: FROM ${stage.from.image}`,
    );
    for (const instruction of stage.instructions) {
      const where = `Dockerfile:${instruction.line}`;
      switch (instruction.keyword) {
        case 'WORKDIR':
          state.workdir = posix.resolve(state.workdir, expand(instruction.value, variables()));
          if (execute) mkdirSync(inRoot(root, state.workdir), { recursive: true });
          break;
        case 'ENV':
          for (const [name, value] of instruction.pairs)
            state.env[name] = expand(value ?? '', variables());
          break;
        case 'ARG':
          for (const [name, value] of instruction.pairs) state.args[name] = value ?? '';
          break;
        case 'COPY':
        case 'ADD': {
          if (!execute) break;
          const destination = posix.resolve(
            state.workdir,
            expand(instruction.destination, variables()),
          );
          const intoFolder =
            instruction.sources.length > 1 || instruction.destination.endsWith('/');
          for (const source of instruction.sources) {
            const expanded = expand(source, variables());
            if (instruction.flags.from !== undefined) {
              const from = findStage(stages, instruction.flags.from, stage.index);
              if (from === undefined)
                throw new DockerfileError([
                  `${where}: COPY --from=${instruction.flags.from} names no earlier stage`,
                ]);
              const origin = inRoot(built[from].root, posix.resolve('/', expanded));
              if (!existsSync(origin))
                throw new DockerfileError([
                  `${where}: COPY --from=${instruction.flags.from} ${source}: not found in that stage`,
                ]);
              const target =
                statSync(origin).isDirectory() || !intoFolder
                  ? destination
                  : posix.join(destination, posix.basename(expanded));
              copyPath(origin, inRoot(root, target));
              continue;
            }
            const matches = matchContext(contextFiles, expanded);
            if (matches.length === 0)
              throw new DockerfileError([
                `${where}: ${instruction.keyword} ${source}: not in the build context (missing, or excluded by .dockerignore)`,
              ]);
            for (const match of matches)
              copyPath(
                join(contextDir, match.file),
                inRoot(root, landing(match, destination, intoFolder, matches.length)),
              );
          }
          log(
            `  ${where} ${instruction.keyword} ${instruction.flags.from ? `--from=${instruction.flags.from} ` : ''}${instruction.sources.join(' ')} -> ${destination}`,
          );
          break;
        }
        case 'RUN': {
          if (!execute) break;
          const command = Array.isArray(instruction.command)
            ? instruction.command
            : ['/bin/sh', '-c', instruction.command];
          log(
            `  ${where} RUN ${Array.isArray(instruction.command) ? instruction.command.join(' ') : instruction.command}`,
          );
          const code = await run(command, {
            cwd: inRoot(root, state.workdir),
            env: { ...baseEnv, ...state.args, ...state.env },
            log,
          });
          if (code !== 0)
            throw new DockerfileError([`${where}: RUN failed with exit code ${code}`]);
          break;
        }
        case 'CMD':
          state.cmd = instruction.command;
          break;
        case 'ENTRYPOINT':
          state.entrypoint = instruction.command;
          break;
        case 'HEALTHCHECK':
          state.healthcheck = instruction.command;
          break;
        default:
          break;
      }
    }
    built.push(state);
  }
  return built.at(-1);
}

/** A path inside the stage (`/app/x`) as a path under the stage's folder. */
export function inRoot(root, path) {
  const target = resolve(root, `.${posix.resolve('/', path)}`);
  if (target !== root && !target.startsWith(root + sep))
    throw new Error(`${path} leaves the stage`);
  return target;
}

function copyPath(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, force: true });
}

function run(command, { cwd, env, log }) {
  return new Promise((resolveCode, reject) => {
    const child = spawn(command[0], command.slice(1), {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const forward = (chunk) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(`    ${line}`);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.once('error', reject);
    child.once('close', (code, signal) => resolveCode(code ?? (signal ? 128 : 1)));
  });
}

/** Paths the final stage must hold, relative to its WORKDIR; returns those it lacks. */
export function missingPaths(stage, paths) {
  return paths.filter(
    (path) => !existsSync(inRoot(stage.root, posix.resolve(stage.workdir, path))),
  );
}
