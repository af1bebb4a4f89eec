import { Injectable } from '@nestjs/common';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import { TenantsService, isUuid } from '../tenants/tenants.service.js';
import type { WebhookEndpointCreateDto, WebhookEndpointUpdateDto } from './dto/webhook.dto.js';
import { WebhookAddressRefusedError, WebhookClient } from './webhook.client.js';
import type { WebhookEndpoint } from './webhook-endpoint.entity.js';
import {
  WebhookEndpointsRepository,
  type WebhookEndpointChanges,
} from './webhook-endpoints.repository.js';
import { displaySecret, generateSigningKey } from './webhook-signature.js';
import type { TransactionHook } from '../database/transaction-hook.js';

/** After a rotation, deliveries are signed with the old secret too for this long. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3_600_000;

// Publishing reads a tenant's endpoints from here; an admin change is seen within this long.
const ENDPOINT_CACHE_MS = 1_000;

/** A tenant's webhook endpoints: admin changes and the cached read used by publishing. */
@Injectable()
export class WebhookEndpointsService {
  private readonly cache = new Map<string, { at: number; endpoints: WebhookEndpoint[] }>();

  constructor(
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly tenants: TenantsService,
    private readonly client: WebhookClient,
  ) {}

  /** Creates an endpoint; the returned `secret` (`whsec_...`) is shown only this once. */
  async create(
    tenantId: string,
    input: WebhookEndpointCreateDto,
    within?: TransactionHook<WebhookEndpoint>,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const tenant = await this.tenants.get(tenantId);
    await this.assertAllowedUrl(input.url);
    const signingKey = generateSigningKey();
    const endpoint = await this.endpoints.create(
      {
        tenantId: tenant.id,
        url: input.url,
        events: input.events,
        enabled: input.enabled,
        secret: signingKey,
      },
      within,
    );
    this.cache.delete(tenant.id);
    return { endpoint, secret: displaySecret(signingKey) };
  }

  async list(tenantId: string): Promise<WebhookEndpoint[]> {
    const tenant = await this.tenants.get(tenantId);
    return this.endpoints.findByTenant(tenant.id);
  }

  async get(id: string): Promise<WebhookEndpoint> {
    const endpoint = isUuid(id) ? await this.endpoints.findById(id) : null;
    if (!endpoint) throw new AppError(ErrorCode.NotFound, `Webhook endpoint ${id} not found`);
    return endpoint;
  }

  /** The endpoint, or null when it is gone; a store failure still throws. */
  find(id: string): Promise<WebhookEndpoint | null> {
    return this.endpoints.findById(id);
  }

  /** Changes url, events or enabled; `rotate_secret` returns the new secret, once. */
  async update(
    id: string,
    input: WebhookEndpointUpdateDto,
    within?: TransactionHook<WebhookEndpoint>,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string | undefined }> {
    const current = await this.get(id);
    if (input.url !== undefined) await this.assertAllowedUrl(input.url);
    const changes: WebhookEndpointChanges = {
      ...(input.url !== undefined && { url: input.url }),
      ...(input.events !== undefined && { events: input.events }),
      ...(input.enabled !== undefined && { enabled: input.enabled }),
    };
    let secret: string | undefined;
    if (input.rotate_secret) {
      const signingKey = generateSigningKey();
      Object.assign(changes, {
        secret: signingKey,
        previousSecret: current.secret,
        previousSecretExpiresAt: new Date(Date.now() + PREVIOUS_SECRET_GRACE_MS),
      });
      secret = displaySecret(signingKey);
    }
    const endpoint = (await this.endpoints.update(id, changes, within)) ?? current;
    this.cache.delete(current.tenantId);
    return { endpoint, secret };
  }

  async delete(id: string, within?: TransactionHook<WebhookEndpoint>): Promise<WebhookEndpoint> {
    const endpoint = await this.get(id);
    await this.endpoints.delete(id, within);
    this.cache.delete(endpoint.tenantId);
    return endpoint;
  }

  /** The tenant's enabled endpoints subscribed to `type` (cached for a second). */
  async subscribers(tenantId: string, type: string): Promise<WebhookEndpoint[]> {
    const now = Date.now();
    let entry = this.cache.get(tenantId);
    if (!entry || now - entry.at > ENDPOINT_CACHE_MS) {
      entry = { at: now, endpoints: await this.endpoints.findByTenant(tenantId) };
      this.cache.set(tenantId, entry);
    }
    return entry.endpoints.filter((endpoint) => endpoint.enabled && endpoint.events.includes(type));
  }

  /** The keys a delivery is signed with now: the current one, and the previous while in grace. */
  signingKeys(endpoint: WebhookEndpoint, now = Date.now()): string[] {
    const previousValid =
      endpoint.previousSecret !== null &&
      endpoint.previousSecretExpiresAt !== null &&
      endpoint.previousSecretExpiresAt.getTime() > now;
    return previousValid ? [endpoint.secret, endpoint.previousSecret!] : [endpoint.secret];
  }

  private async assertAllowedUrl(url: string): Promise<void> {
    try {
      await this.client.assertAllowedUrl(url);
    } catch (error) {
      if (!(error instanceof WebhookAddressRefusedError)) throw error;
      throw new AppError(ErrorCode.InvalidValue, `url: ${error.message}`, { param: 'url' });
    }
  }
}
