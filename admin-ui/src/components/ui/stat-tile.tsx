import type { ReactNode } from 'react';

interface StatTileProps {
  label: string;
  value: ReactNode;
  detail?: ReactNode;
  tone?: 'neutral' | 'success' | 'warning' | 'danger';
  children?: ReactNode;
}

export function StatTile({ label, value, detail, tone = 'neutral', children }: StatTileProps) {
  return (
    <div className={`stat-tile stat-${tone}`}>
      <span className="stat-label">{label}</span>
      <span className="stat-value">{value}</span>
      {detail && <span className="stat-detail">{detail}</span>}
      {children}
    </div>
  );
}
