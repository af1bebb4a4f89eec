import { redactCredentials } from './redact-credentials.js';

/** A start-up configuration error; its message names the variable and the value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** One Inference Bus node as configured in `BUS_NODES`. */
export interface BusNodeConfig {
  /** Base URL up to and including the API version, without a trailing slash (`http://h:8000/v1`). */
  readonly url: string;
  /** Relative routing weight. */
  readonly stake: number;
  /** Requests this node takes at once, across all instances together. */
  readonly maxInflight: number;
}

/**
 * Parses `BUS_NODES`: comma-separated base URLs, each optionally `=STAKE` or `=STAKE:MAX` (stake 1
 * and `defaultMaxInflight` when omitted).
 */
export function parseBusNodes(value: string, defaultMaxInflight: number): BusNodeConfig[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const nodes = entries.map((entry) => {
    const separator = entry.lastIndexOf('=');
    const rawUrl = separator > 0 ? entry.slice(0, separator) : entry;
    const rawWeights = separator > 0 ? entry.slice(separator + 1) : '1';
    const [rawStake = '', rawMax] = rawWeights.split(':');
    const stake = Number(rawStake);
    if (!/^https?:\/\/[^/\s]+/.test(rawUrl) || !URL.canParse(rawUrl)) {
      throw new ConfigError(`BUS_NODES entry "${redactCredentials(entry)}": not an http(s) URL`);
    }
    if (!/^\d+(\.\d+)?$/.test(rawStake) || !(stake > 0)) {
      throw new ConfigError(
        `BUS_NODES entry "${redactCredentials(entry)}": stake must be a positive number`,
      );
    }
    if (rawMax !== undefined && !(/^\d+$/.test(rawMax) && Number(rawMax) >= 1)) {
      throw new ConfigError(`BUS_NODES entry "${entry}": MAX must be a positive integer`);
    }
    const maxInflight = rawMax === undefined ? defaultMaxInflight : Number(rawMax);
    return { url: rawUrl.replace(/\/+$/, ''), stake, maxInflight };
  });
  const seen = new Set<string>();
  for (const node of nodes) {
    if (seen.has(node.url)) {
      throw new ConfigError(`BUS_NODES entry "${redactCredentials(node.url)}": listed twice`);
    }
    seen.add(node.url);
  }
  return nodes;
}
