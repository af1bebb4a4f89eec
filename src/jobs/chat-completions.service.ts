import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { TenantPrincipal } from '../auth/tenant-principal.js';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { Admission } from '../limits/admission.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { dispatchTenant } from '../dispatch/dispatch-tenant.js';
import { InferenceProducer } from './inference.producer.js';
import { JobWaiter, type JobWatch } from './job-waiter.service.js';
import type { JobSnapshot } from './job-view.mapper.js';
import type { WaitPreference } from './wait-preference.js';

/** Queues chat completion requests and answers them in queued or wait mode. */
@Injectable()
export class ChatCompletionsService {
  constructor(
    private readonly producer: InferenceProducer,
    private readonly waiter: JobWaiter,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Queues the request as job `admission.id` in its tenant's line. Durable once the queue has
   * it; if the dispatcher's store is away, a later round lists it (and reconciliation does, if
   * this process dies in between).
   */
  async enqueue(
    tenant: TenantPrincipal,
    admission: Admission,
    model: string,
    request: string,
    expiresAt?: number,
  ): Promise<void> {
    try {
      await this.producer.enqueue(
        admission.id,
        {
          tenantId: tenant.tenantId,
          model,
          request,
          ...(expiresAt !== undefined && { expiresAt }),
        },
        dispatchTenant(tenant),
        admission.claimedNode,
      );
    } catch (error) {
      throw new AppError(
        ErrorCode.ServiceUnavailable,
        'The queue is unreachable or full; the request was not accepted',
        { retryAfterS: 1, cause: error },
      );
    }
    // The job exists: whatever happens next, the admission is not rolled back.
    admission.settle();
    this.metrics.jobAccepted();
  }

  sendQueued(reply: FastifyReply, jobId: string, status: 'queued' | 'expired' = 'queued'): void {
    const poll = `/v1/results/${jobId}`;
    void reply.status(202).header('location', poll).send({ id: jobId, status, poll });
  }

  /** Listens for a job's ending from before it is added (see `JobWaiter.watch`). */
  watch(jobId: string): JobWatch {
    return this.waiter.watch(jobId);
  }

  /**
   * Wait mode: answers once the job is final, or as `API.md` says when the wait runs out.
   * `watch`: taken before the job was added, when this request added it.
   */
  async sendWhenFinal(
    reply: FastifyReply,
    tenant: TenantPrincipal,
    jobId: string,
    preference: Extract<WaitPreference, { mode: 'wait' }>,
    clientGone: AbortSignal,
    watch?: JobWatch,
  ): Promise<void> {
    const snapshot = await this.waiter.waitForFinal(
      tenant.tenantId,
      jobId,
      preference.seconds * 1000,
      clientGone,
      watch,
    );
    if (clientGone.aborted) return;
    const poll = `/v1/results/${jobId}`;
    switch (snapshot.view.status) {
      case 'complete':
        void reply
          .status(200)
          .headers({
            'content-type': 'application/json; charset=utf-8',
            'x-job-id': jobId,
            'x-job-retries': String(snapshot.view.retries),
            'preference-applied': 'wait',
          })
          .send(snapshot.resultBody);
        return;
      case 'dead':
        throw deadJobError(snapshot);
      case 'cancelled':
        throw new AppError(ErrorCode.JobCancelled, `Job ${jobId} was cancelled`, {
          headers: { 'x-job-id': jobId },
        });
      case 'expired':
        if (preference.explicit) {
          void reply.header('preference-applied', `wait=${preference.seconds}`);
          this.sendQueued(reply, jobId, 'expired');
          return;
        }
        throw new AppError(
          ErrorCode.UpstreamTimeout,
          `Job ${jobId} expired: its Cancel-After deadline passed before it completed`,
          { headers: { 'x-job-id': jobId, location: poll } },
        );
      case 'queued':
      case 'processing':
        if (preference.explicit) {
          void reply.header('preference-applied', `wait=${preference.seconds}`);
          this.sendQueued(reply, jobId);
          return;
        }
        throw new AppError(
          ErrorCode.UpstreamTimeout,
          `Job ${jobId} is still ${snapshot.view.status} after ${preference.seconds} s; poll ${poll} for its result`,
          { headers: { 'x-job-id': jobId, location: poll } },
        );
    }
  }
}

/** A dead job's answer: the backend's last 4xx status if it was one, else 502. */
function deadJobError(snapshot: JobSnapshot): AppError {
  const upstream = snapshot.lastUpstreamStatus;
  const status = upstream !== null && upstream >= 400 && upstream < 500 ? upstream : 502;
  return new AppError(
    ErrorCode.UpstreamError,
    `Job ${snapshot.view.id} failed after ${snapshot.view.retries} retries: ${snapshot.view.error ?? 'unknown error'}`,
    { status, headers: { 'x-job-id': snapshot.view.id } },
  );
}
