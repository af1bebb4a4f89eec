export type LimitName = 'rpm' | 'tokens_per_day' | 'max_concurrent' | 'max_queued';

export const LIMIT_FIELDS: { name: LimitName; label: string; hint: string; max: number }[] = [
  { name: 'rpm', label: 'Requests per minute', hint: 'sliding 60 s window', max: 2_147_483_647 },
  {
    name: 'tokens_per_day',
    label: 'Tokens per day',
    hint: 'total tokens per UTC day',
    max: Number.MAX_SAFE_INTEGER,
  },
  {
    name: 'max_concurrent',
    label: 'Concurrent jobs',
    hint: 'jobs at a backend and streams at once',
    max: 2_147_483_647,
  },
  {
    name: 'max_queued',
    label: 'Queued jobs',
    hint: 'jobs waiting their turn; beyond, 429 queue_full',
    max: 2_147_483_647,
  },
];

/** The tenant's share of the pool when tenants compete: a top-level field, not a limit. */
export const WEIGHT_FIELD = {
  name: 'weight',
  label: 'Weight',
  hint: 'share of the pool when tenants compete, 1 to 1,000',
  min: 1,
  max: 1000,
} as const;

export type LimitDrafts = Record<LimitName, string>;
export type LimitErrors = Partial<Record<LimitName, string>>;

/** Why `text` is not a whole number in [min, max], or its value. */
function parseWhole(text: string, min: number, max: number): { value?: number; error?: string } {
  const digits = text.trim().replace(/[_,\s]/g, '');
  if (!/^\d+$/.test(digits)) return { error: 'Enter a whole number' };
  const value = Number(digits);
  if (value < min) return { error: `Must be at least ${min.toLocaleString('en-US')}` };
  if (value > max) return { error: `At most ${max.toLocaleString('en-US')}` };
  return { value };
}

/**
 * Checks limit inputs as the API will: whole numbers of at least 1. Blank fields are left out
 * (`allowBlank`: the server's default applies) or refused.
 */
export function validateLimits(
  drafts: LimitDrafts,
  allowBlank: boolean,
): { limits: Partial<Record<LimitName, number>>; errors: LimitErrors } {
  const limits: Partial<Record<LimitName, number>> = {};
  const errors: LimitErrors = {};
  for (const { name, max } of LIMIT_FIELDS) {
    if (drafts[name].trim() === '') {
      if (!allowBlank) errors[name] = 'Required';
      continue;
    }
    const { value, error } = parseWhole(drafts[name], 1, max);
    if (error !== undefined) errors[name] = error;
    else limits[name] = value;
  }
  return { limits, errors };
}

/** Checks the weight input as the API will: a whole number from 1 to 1,000; blank as for limits. */
export function validateWeight(
  draft: string,
  allowBlank: boolean,
): { weight?: number; error?: string } {
  if (draft.trim() === '') return allowBlank ? {} : { error: 'Required' };
  const { value, error } = parseWhole(draft, WEIGHT_FIELD.min, WEIGHT_FIELD.max);
  return error !== undefined ? { error } : { weight: value };
}

export const TENANT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.-]*$/;

export function validateTenantName(name: string): string | null {
  const trimmed = name.trim();
  if (!trimmed) return 'Required';
  if (trimmed.length > 100) return 'At most 100 characters';
  if (!TENANT_NAME_PATTERN.test(trimmed)) {
    return 'Start with a letter or digit; then letters, digits, space and _ . - only';
  }
  return null;
}
