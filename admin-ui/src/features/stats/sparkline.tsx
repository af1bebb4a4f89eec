/** A small line chart of recent values; no axes, just the trend. */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const width = 240;
  const height = 48;
  if (values.length < 2) {
    return <div className="sparkline sparkline-empty" aria-label={label} />;
  }
  const max = Math.max(...values, 0.001);
  const step = width / (values.length - 1);
  const points = values.map(
    (value, index) =>
      `${(index * step).toFixed(1)},${(height - 4 - (value / max) * (height - 8)).toFixed(1)}`,
  );
  return (
    <svg className="sparkline" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <polyline
        points={`0,${height} ${points.join(' ')} ${width},${height}`}
        className="sparkline-area"
      />
      <polyline points={points.join(' ')} className="sparkline-line" />
    </svg>
  );
}
