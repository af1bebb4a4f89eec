/** Types of build-files.mjs, for the TypeScript side (its unit test). */

export function listFiles(path: string): string[];
export function moveInto(
  from: string,
  to: string,
  keep?: Set<string>,
  order?: (a: string, b: string) => number,
): void;
export function replaceFile(path: string, content: string): boolean;
export function lock(path: string, options?: { waitMs?: number; onWait?: () => void }): () => void;
