const integer = new Intl.NumberFormat('en-US');
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'medium',
});

export const formatInteger = (value: number): string => integer.format(value);

export const formatCompact = (value: number): string =>
  value < 10_000 ? integer.format(value) : compact.format(value);

export const formatPercent = (ratio: number): string =>
  `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.01 ? 2 : 1)}%`;

/** Unix seconds as a local date and time. */
export const formatDateTime = (unixSeconds: number): string =>
  dateTime.format(new Date(unixSeconds * 1000));

/** Unix seconds as "3 min ago" / "in 20 s". */
export function formatRelative(unixSeconds: number, now = Date.now()): string {
  const seconds = Math.round(unixSeconds - now / 1000);
  const past = seconds <= 0;
  const size = Math.abs(seconds);
  let text: string;
  if (size < 5) return 'just now';
  if (size < 60) text = `${size} s`;
  else if (size < 3600) text = `${Math.floor(size / 60)} min`;
  else if (size < 86_400) text = `${Math.floor(size / 3600)} h`;
  else text = `${Math.floor(size / 86_400)} d`;
  return past ? `${text} ago` : `in ${text}`;
}

export const shortId = (id: string): string => id.slice(0, 8);
