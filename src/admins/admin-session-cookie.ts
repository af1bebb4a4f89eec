import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_MAX_AGE_MS } from './admin-sessions.service.js';

export const ADMIN_SESSION_COOKIE = 'infq_admin_session';
// Sent to the admin API and nowhere else on this origin.
const COOKIE_PATH = '/admin';

/** The session token from the request's `Cookie` header, if any. */
export function readSessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === ADMIN_SESSION_COOKIE) {
      return part.slice(separator + 1).trim();
    }
  }
  return undefined;
}

export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
): void {
  void reply.header('set-cookie', serialize(request, token, Math.floor(SESSION_MAX_AGE_MS / 1000)));
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  void reply.header('set-cookie', serialize(request, '', 0));
}

function serialize(request: FastifyRequest, value: string, maxAgeS: number): string {
  const attributes = [
    `${ADMIN_SESSION_COOKIE}=${value}`,
    `Path=${COOKIE_PATH}`,
    `Max-Age=${maxAgeS}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (isBehindTls(request)) attributes.push('Secure');
  return attributes.join('; ');
}

/** TLS here or at a proxy in front (which says so in `X-Forwarded-Proto`). */
function isBehindTls(request: FastifyRequest): boolean {
  if (request.protocol === 'https') return true;
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first?.toLowerCase() === 'https';
}
