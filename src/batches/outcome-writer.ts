import type { LineOutcome } from './batch-line.js';
import type { BatchesRepository } from './batches.repository.js';

// Outcomes written by one statement at most (the arrays travel as query parameters).
const MAX_GROUP = 500;

/**
 * Records batch lines' outcomes as they end, in as few statements as the database's pace
 * allows: while one write is in flight, the outcomes that end meanwhile gather and go together
 * in the next. Each `record` resolves once its outcome is written (or rejects with the write's
 * error), so callers keep their durability; a lone outcome is written at once.
 */
export class OutcomeWriter {
  private queued: {
    jobId: string;
    outcome: LineOutcome;
    settle: (error?: Error) => void;
  }[] = [];
  private writing = false;

  constructor(private readonly batches: BatchesRepository) {}

  record(jobId: string, outcome: LineOutcome): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queued.push({
        jobId,
        outcome,
        settle: (error) => (error === undefined ? resolve() : reject(error)),
      });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queued.length > 0) {
      const group = this.queued.splice(0, MAX_GROUP);
      let failure: Error | undefined;
      // As one statement per outcome would: the first outcome of a line wins. (An UPDATE that
      // joins a row twice would pick one of the two at random.)
      const first = new Map<string, (typeof group)[number]>();
      for (const entry of group) if (!first.has(entry.jobId)) first.set(entry.jobId, entry);
      try {
        await this.batches.recordOutcomes([...first.values()]);
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
      }
      for (const { settle } of group) settle(failure);
    }
    this.writing = false;
  }
}
