import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { DispatchTenant } from '../dispatch/dispatch-store.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { TenantsService } from '../tenants/tenants.service.js';
import type { JobOrigin } from './job-lifecycle.service.js';
import type { InferenceJobData } from './inference-queue.js';
import { InferenceProducer } from './inference.producer.js';

/** A job to create on behalf of a tenant, outside the HTTP admission path (e.g. a batch line). */
export interface JobSubmission {
  tenantId: string;
  /** Chosen by the caller when it must be stable (e.g. derived from a batch line); else random. */
  jobId?: string;
  model: string;
  /** The request body as JSON text, forwarded verbatim. */
  request: string;
  origin?: JobOrigin;
  /** Unix ms after which the job ends `expired`. */
  expiresAt?: number;
}

/**
 * Creates jobs for internal producers (batches). Durable once the promise resolves; submitting
 * the same `jobId` twice creates one job. Batch lines wait in their tenant's batch line, which
 * takes turns with the tenant's own requests, and do not count against `max_queued`.
 */
@Injectable()
export class JobSubmissionService {
  constructor(
    private readonly producer: InferenceProducer,
    private readonly tenants: TenantsService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Submits several jobs of one tenant, all with an `origin` (a batch's group): one queue call
   * and one store call for the group. Durable once the promise resolves.
   */
  async submitMany(tenantId: string, submissions: readonly JobSubmission[]): Promise<void> {
    if (submissions.length === 0) return;
    await this.producer.enqueueMany(
      submissions.map((submission) => ({
        jobId: submission.jobId ?? randomUUID(),
        data: jobData(submission),
      })),
      await this.dispatchTenant(tenantId),
      'batch',
    );
    this.metrics.jobAccepted(submissions.length);
  }

  async submit(submission: JobSubmission): Promise<string> {
    const jobId = submission.jobId ?? randomUUID();
    await this.producer.enqueue(
      jobId,
      jobData(submission),
      await this.dispatchTenant(submission.tenantId),
    );
    this.metrics.jobAccepted();
    return jobId;
  }

  private async dispatchTenant(tenantId: string): Promise<DispatchTenant> {
    const tenant = await this.tenants.get(tenantId);
    return { tenantId: tenant.id, maxConcurrent: tenant.maxConcurrent, weight: tenant.weight };
  }
}

/** The queued job of a submission: a batch line (it has an origin) or an interactive job. */
function jobData(submission: JobSubmission): InferenceJobData {
  return {
    tenantId: submission.tenantId,
    model: submission.model,
    request: submission.request,
    lane: submission.origin ? 'batch' : 'interactive',
    ...(submission.origin && { origin: submission.origin }),
    ...(submission.expiresAt !== undefined && { expiresAt: submission.expiresAt }),
  };
}
