/** One scrape of `/metrics`, parsed: each sample by its full series name with labels. */
export class MetricsScrape {
  private constructor(
    private readonly samples: ReadonlyMap<string, number>,
    /** Metric names declared by `# TYPE` lines, with or without samples yet. */
    private readonly declared: ReadonlySet<string>,
  ) {}

  static parse(text: string): MetricsScrape {
    const samples = new Map<string, number>();
    const declared = new Set<string>();
    for (const line of text.split('\n')) {
      if (line.startsWith('# TYPE ')) declared.add(line.split(' ')[2]);
      if (line === '' || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return new MetricsScrape(samples, declared);
  }

  /** The sample of `name` with exactly these labels (in declaration order); 0 when absent. */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples.get(seriesKey(name, labels)) ?? 0;
  }

  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.has(seriesKey(name, labels));
  }

  /** Every metric and series name (without labels) in the scrape, sampled or only declared. */
  names(): Set<string> {
    return new Set([...this.declared, ...[...this.samples.keys()].map((key) => key.split('{')[0])]);
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return name;
  return `${name}{${entries.map(([label, value]) => `${label}="${value}"`).join(',')}}`;
}
