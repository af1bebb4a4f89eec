import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { isForbiddenAddress, parseWebhookUrl } from './webhook-address.js';

/** A 2xx within this long is a successful delivery; anything slower is a failed attempt. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

const FORBIDDEN_KIND = 'a loopback, private, link-local or metadata address';

/** The host of a webhook URL is, or resolves to, an address webhooks may not reach. */
export class WebhookAddressRefusedError extends Error {
  override readonly name = 'WebhookAddressRefusedError';
  readonly code = 'ERR_WEBHOOK_ADDRESS_REFUSED';
}

export type WebhookAttemptOutcome =
  | { ok: true; statusCode: number }
  /** `retryable: false` when trying again cannot help (a refused address, a malformed URL). */
  | { ok: false; statusCode: number | null; error: string; retryable: boolean };

/**
 * POSTs webhook bodies. Unless private addresses are allowed, the host is resolved when the
 * connection is made and every address checked, and the socket connects to the checked address,
 * so DNS cannot answer one address to the check and another to the connection.
 */
@Injectable()
export class WebhookClient implements OnModuleDestroy {
  private readonly agent: Agent;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const allowPrivate = config.webhooks.allowPrivate;
    this.agent = new Agent({
      connect: {
        timeout: WEBHOOK_TIMEOUT_MS,
        ...(!allowPrivate && { lookup: checkedLookup }),
      },
      headersTimeout: WEBHOOK_TIMEOUT_MS,
      bodyTimeout: WEBHOOK_TIMEOUT_MS,
      // No cap per host: tenants may share one, and the processor paces each endpoint itself.
      connections: null,
      keepAliveTimeout: 4_000,
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.agent.destroy();
  }

  /** Throws a `WebhookAddressRefusedError` for a URL no delivery may go to. */
  async assertAllowedUrl(url: string): Promise<void> {
    const target = parseWebhookUrl(url);
    if (!target) throw new WebhookAddressRefusedError('the URL must be an absolute http(s) URL');
    if (this.config.webhooks.allowPrivate) return;
    // A name that does not resolve yet is let through: every delivery checks again anyway.
    const addresses = target.isIpLiteral
      ? [target.host]
      : await resolveAll(target.host).catch(() => []);
    const refused = addresses.find(isForbiddenAddress);
    if (refused === undefined) return;
    throw new WebhookAddressRefusedError(
      refused === target.host
        ? `${target.host} is ${FORBIDDEN_KIND}`
        : `${target.host} resolves to ${refused}, ${FORBIDDEN_KIND}`,
    );
  }

  /** One attempt; never throws. */
  async post(
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<WebhookAttemptOutcome> {
    const target = parseWebhookUrl(url);
    if (!target) return refused('the URL must be an absolute http(s) URL');
    // Literal IPs are connected to without a lookup: check them here.
    if (
      target.isIpLiteral &&
      !this.config.webhooks.allowPrivate &&
      isForbiddenAddress(target.host)
    ) {
      return refused(`${target.host} is ${FORBIDDEN_KIND}`);
    }
    const signal = AbortSignal.timeout(WEBHOOK_TIMEOUT_MS);
    try {
      const response = await request(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'infq-webhooks', ...headers },
        body,
        dispatcher: this.agent,
        signal,
      });
      // The answer's body is not used; reading it keeps the connection reusable.
      await response.body.dump({ limit: 64 * 1024, signal }).catch(() => undefined);
      const statusCode = response.statusCode;
      if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode };
      return {
        ok: false,
        statusCode,
        error: `the endpoint answered ${statusCode}`,
        retryable: true,
      };
    } catch (error) {
      const cause = refusal(error);
      if (cause) return refused(cause.message);
      const timedOut = signal.aborted;
      return {
        ok: false,
        statusCode: null,
        error: timedOut
          ? `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`
          : `could not reach the endpoint: ${describe(error)}`,
        retryable: true,
      };
    }
  }
}

function refused(message: string): WebhookAttemptOutcome {
  return { ok: false, statusCode: null, error: `refused: ${message}`, retryable: false };
}

function refusal(error: unknown): WebhookAddressRefusedError | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof WebhookAddressRefusedError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return code ? `${code} ${message ?? ''}`.trim() : (message ?? String(error));
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses.map((entry) => entry.address)),
    );
  });
}

/** `net.connect`'s lookup: resolves, refuses the whole host if any address is forbidden. */
const checkedLookup = ((hostname, options, callback) => {
  dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const bad = addresses.find((entry) => isForbiddenAddress(entry.address));
    if (bad) {
      const message = `${hostname} resolves to ${bad.address}, ${FORBIDDEN_KIND}`;
      return callback(new WebhookAddressRefusedError(message), '', 0);
    }
    const usable = options.family
      ? addresses.filter((entry) => entry.family === options.family)
      : addresses;
    if (usable.length === 0) {
      return callback(
        Object.assign(new Error(`${hostname} has no usable address`), { code: 'ENOTFOUND' }),
        '',
        0,
      );
    }
    if (options.all) return (callback as unknown as AllCallback)(null, usable);
    return callback(null, usable[0].address, usable[0].family);
  });
}) as LookupFunction;

type AllCallback = (error: Error | null, addresses: LookupAddress[]) => void;
