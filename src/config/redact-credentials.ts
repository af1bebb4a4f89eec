/**
 * A URL (or a comma-separated list of them) as it may be shown in a log or an error: whatever
 * stands between `scheme://` and the last `@` (user and password) becomes `***`. Works on text
 * that does not parse as a URL too, since that is when it gets echoed.
 */
export function redactCredentials(value: string): string {
  return value
    .split(',')
    .map((part) =>
      part.replace(/^(\s*[^\s@]*?:\/\/)?.*@/s, (_match, scheme?: string) => `${scheme ?? ''}***@`),
    )
    .join(',');
}
