export type LimitName = 'rpm' | 'tokens_per_day' | 'max_concurrent';

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
    hint: 'open jobs and streams at once',
    max: 2_147_483_647,
  },
];

export type LimitDrafts = Record<LimitName, string>;
export type LimitErrors = Partial<Record<LimitName, string>>;

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
    const text = drafts[name].trim().replace(/[_,\s]/g, '');
    if (text === '') {
      if (!allowBlank) errors[name] = 'Required';
      continue;
    }
    if (!/^\d+$/.test(text)) {
      errors[name] = 'Enter a whole number';
      continue;
    }
    const value = Number(text);
    if (value < 1) errors[name] = 'Must be at least 1';
    else if (value > max) errors[name] = `At most ${max.toLocaleString('en-US')}`;
    else limits[name] = value;
  }
  return { limits, errors };
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
