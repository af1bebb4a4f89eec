import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';

/** Largest request header section Node accepts (its default, stated so the README can cite it). */
export const MAX_HEADER_BYTES = 16_384;

/**
 * Answers what Node's HTTP parser refuses before any route runs (an oversized header section, a
 * request that took too long to arrive, bytes that are not HTTP) in the contract's error shape,
 * then closes the connection. Node's own answer is a bare status line.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const appError = clientError(error.code);
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    // A response has started on this socket: another one would corrupt it.
    socket.destroy(error);
    return;
  }
  const body = JSON.stringify(appError.toBody());
  socket.end(
    `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

function clientError(code: string | undefined): AppError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new AppError(
        ErrorCode.HeadersTooLarge,
        `Request headers exceed ${MAX_HEADER_BYTES} bytes in total`,
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError(
        ErrorCode.RequestTimeout,
        'The request did not arrive in time; send it again without pausing',
      );
    default:
      return new AppError(ErrorCode.InvalidValue, 'Malformed HTTP request');
  }
}
