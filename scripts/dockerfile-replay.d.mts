/** Types of dockerfile-replay.mjs, for the TypeScript side (its unit test). */

export interface Instruction {
  line: number;
  keyword: string;
  flags?: Record<string, string>;
  sources?: string[];
  destination?: string;
  command?: string | string[];
  pairs?: [string, string | undefined][];
  value?: string;
  image?: string;
  name?: string;
}

export interface Stage {
  index: number;
  from: Instruction & { image: string; name?: string };
  instructions: Instruction[];
}

export interface ReplayedStage {
  /** The stage's `/` on this machine. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  cmd?: string | string[];
  entrypoint?: string | string[];
  healthcheck?: string | string[];
}

export class DockerfileError extends Error {
  readonly problems: string[];
  constructor(problems: string[]);
}

export function parseDockerfile(text: string): Stage[];
export function dockerignoreMatcher(text: string): (path: string) => boolean;
export function listContext(contextDir: string): string[];
export function checkDockerfile(stages: Stage[], contextDir: string): string[];
export function replayStages(
  stages: Stage[],
  options: {
    contextDir: string;
    workDir: string;
    baseEnv?: Record<string, string>;
    log?: (line: string) => void;
    /** false: copy and run nothing, only describe stages replayed before into `workDir`. */
    execute?: boolean;
  },
): Promise<ReplayedStage>;
export function inRoot(root: string, path: string): string;
export function missingPaths(stage: ReplayedStage, paths: string[]): string[];
