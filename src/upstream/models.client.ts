import { Injectable } from '@nestjs/common';
import { readCapped } from './capped-body.js';
import type { UpstreamNode } from './upstream-node.js';

// A model list is small; a node answering megabytes is not answering a model list.
const MAX_MODELS_BODY_BYTES = 1_048_576;

/** Calls `GET {base}/models` on one node: the health probe and the catalogue's source. */
@Injectable()
export class ModelsClient {
  /** The node's model ids; throws an Error with a readable message on any failure. */
  async list(node: UpstreamNode, signal: AbortSignal): Promise<string[]> {
    const response = await node.probePool.request({
      method: 'GET',
      path: node.path('/models'),
      headers: node.headers({ accept: 'application/json' }),
      signal,
    });
    const { text, truncated } = await readCapped(response.body, MAX_MODELS_BODY_BYTES);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`GET /models answered ${response.statusCode}`);
    }
    if (truncated) throw new Error(`GET /models answered more than ${MAX_MODELS_BODY_BYTES} bytes`);
    return parseModelIds(text);
  }
}

/** The ids of an OpenAI model list (`{"data": [{"id": …}]}`), each once. */
export function parseModelIds(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('GET /models answered something other than JSON');
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new Error('GET /models answered JSON without a data array');
  const ids = data
    .map((entry: unknown) => (entry as { id?: unknown } | null)?.id)
    .filter((id): id is string => typeof id === 'string' && id !== '');
  return [...new Set(ids)];
}
