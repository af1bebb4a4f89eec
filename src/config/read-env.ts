import { config as loadDotenv } from 'dotenv';

/** The one place that reads the process environment; a `.env` file fills in what is unset. */
export function readEnv(): Readonly<Record<string, string | undefined>> {
  loadDotenv({ quiet: true });
  return { ...process.env };
}
