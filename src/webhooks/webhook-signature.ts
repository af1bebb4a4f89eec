import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
// Standard Webhooks asks for 24 to 64 bytes of key.
const SECRET_BYTES = 32;

/** A new signing key, base64 (what is stored); shown to the admin as `whsec_<key>`. */
export const generateSigningKey = (): string => randomBytes(SECRET_BYTES).toString('base64');

/** The secret as the admin sees it once. */
export const displaySecret = (signingKey: string): string => `${SECRET_PREFIX}${signingKey}`;

/**
 * The Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the
 * key's bytes.
 */
export function signWebhook(
  signingKey: string,
  webhookId: string,
  timestampS: number,
  body: string,
): string {
  const mac = createHmac('sha256', Buffer.from(signingKey, 'base64'))
    .update(`${webhookId}.${timestampS}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/** The three headers of one attempt; several keys (during a rotation) give several signatures. */
export function webhookHeaders(
  signingKeys: readonly string[],
  webhookId: string,
  timestampS: number,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': signingKeys
      .map((key) => signWebhook(key, webhookId, timestampS, body))
      .join(' '),
  };
}
