import {
  Catch,
  HttpException,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';
import { REQUEST_ID_HEADER } from './request-context.js';
import { isStoreUnreachable } from './store-unreachable.js';

/** Renders every error, from any layer, in OpenAI's error shape. */
@Catch()
export class OpenAiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const error = toAppError(exception, request);
    if (error.status >= 500 && error.code === ErrorCode.InternalError) {
      this.logger.error({ err: exception, requestId: request.id }, 'unhandled error');
    }
    sendAppError(reply, error);
  }
}

/** Writes `error` to `reply`, or ends an already started event stream with an error event. */
export function sendAppError(reply: FastifyReply, error: AppError): void {
  if (reply.raw.headersSent) {
    if (!reply.raw.writableEnded) {
      reply.raw.end(`data: ${JSON.stringify(error.toBody())}\n\n`);
    }
    return;
  }
  // Errors raised before the request hooks ran (malformed URLs) get their id here.
  if (!reply.raw.hasHeader(REQUEST_ID_HEADER))
    reply.raw.setHeader(REQUEST_ID_HEADER, reply.request.id);
  if (error.retryAfterS !== undefined) {
    void reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterS))));
  }
  for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
  const body = error.toBody();
  // A 5xx names its request, so a report can be matched with the logs.
  const requestId = reply.request.id;
  if (error.status >= 500 && !body.error.message.includes(requestId)) {
    body.error.message = `${body.error.message} (request ${requestId})`;
  }
  void reply.status(error.status).type('application/json; charset=utf-8').send(body);
}

/** Maps anything thrown (AppError, Nest HTTP exceptions, Fastify's parser errors) to an AppError. */
export function toAppError(exception: unknown, request?: FastifyRequest): AppError {
  if (exception instanceof AppError) return exception;
  const fastifyCode = (exception as { code?: unknown } | null)?.code;
  switch (fastifyCode) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(
        ErrorCode.UnsupportedMediaType,
        `Content-Type ${request?.headers['content-type'] ?? '(none)'} is not supported; send application/json`,
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(ErrorCode.RequestTooLarge, 'Request body is too large');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError(ErrorCode.InvalidJson, 'Request body is not valid JSON');
  }
  if (exception instanceof SyntaxError || fastifyCode === 'FST_ERR_CTP_INVALID_JSON') {
    return new AppError(ErrorCode.InvalidJson, 'Request body is not valid JSON');
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    switch (status) {
      case 404:
        return new AppError(
          ErrorCode.RouteNotFound,
          request ? `No route for ${request.method} ${request.url.split('?')[0]}` : 'Not found',
        );
      case 400:
        return new AppError(ErrorCode.InvalidValue, exception.message);
      case 401:
        return new AppError(ErrorCode.Unauthorized, exception.message);
      case 413:
        return new AppError(ErrorCode.RequestTooLarge, 'Request body is too large');
      case 415:
        return new AppError(ErrorCode.UnsupportedMediaType, exception.message);
    }
  }
  const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const message = exception instanceof Error ? exception.message : 'Bad request';
    return new AppError(ErrorCode.InvalidValue, message, {
      status: statusCode === 413 ? 413 : 400,
    });
  }
  if (isStoreUnreachable(exception)) {
    return new AppError(
      ErrorCode.ServiceUnavailable,
      'The database or the queue is unreachable or full; try again shortly',
      { retryAfterS: 1, cause: exception },
    );
  }
  return new AppError(
    ErrorCode.InternalError,
    `Internal error${request ? ` (request ${request.id})` : ''}`,
  );
}

/** Errors Fastify raises while routing (bad or over-long URLs), in the contract's shape. */
export function frameworkError(
  error: Error & { code?: string },
  request: FastifyRequest,
): AppError {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return new AppError(ErrorCode.RequestTooLarge, 'URL is too long', { status: 414 });
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    return new AppError(ErrorCode.RouteNotFound, `Malformed URL: ${request.url.slice(0, 200)}`);
  }
  return toAppError(error, request);
}
