import { describe, expect, it } from 'vitest';
import { batchLineJobId, checkBatchLine, lineOutcome } from './batch-line.js';

const good = {
  custom_id: 'a',
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
};
const line = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

describe('checkBatchLine', () => {
  it('accepts a well-formed line and keeps its body', () => {
    expect(checkBatchLine(line(good), 3, 1_000_000)).toEqual({
      ok: true,
      customId: 'a',
      model: 'm',
      request: JSON.stringify(good.body),
    });
  });

  const bad: { name: string; text: string; code: string; param: string | null }[] = [
    { name: 'bad JSON', text: '{"custom_id":', code: 'invalid_json_line', param: null },
    { name: 'an array', text: '[1]', code: 'invalid_json_line', param: null },
    {
      name: 'no custom_id',
      text: line({ ...good, custom_id: undefined }),
      code: 'missing_required_parameter',
      param: 'custom_id',
    },
    {
      name: 'GET',
      text: line({ ...good, method: 'GET' }),
      code: 'invalid_method',
      param: 'method',
    },
    {
      name: 'another url',
      text: line({ ...good, url: '/v1/embeddings' }),
      code: 'invalid_url',
      param: 'url',
    },
    {
      name: 'no model',
      text: line({ ...good, body: { messages: [{ role: 'user', content: 'x' }] } }),
      code: 'missing_required_parameter',
      param: 'body.model',
    },
    {
      name: 'no messages',
      text: line({ ...good, body: { model: 'm' } }),
      code: 'missing_required_parameter',
      param: 'body.messages',
    },
    {
      name: 'a stream',
      text: line({ ...good, body: { ...good.body, stream: true } }),
      code: 'invalid_value',
      param: 'body.stream',
    },
  ];
  for (const { name, text, code, param } of bad) {
    it(`refuses ${name}, naming the line`, () => {
      const check = checkBatchLine(text, 7, 1_000_000);
      expect(check).toMatchObject({ ok: false, error: { code, param, line: 7 } });
      if (!check.ok) expect(check.error.message).toMatch(/^Line 7: /);
    });
  }

  it('refuses a body over the size limit', () => {
    expect(checkBatchLine(line(good), 1, 10)).toMatchObject({ ok: false });
  });
});

describe('batchLineJobId', () => {
  it('is a stable UUID per batch and line', () => {
    const id = batchLineJobId('batch_1', 1);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(batchLineJobId('batch_1', 1)).toBe(id);
    expect(batchLineJobId('batch_1', 2)).not.toBe(id);
    expect(batchLineJobId('batch_2', 1)).not.toBe(id);
  });
});

describe('lineOutcome', () => {
  const base = { jobId: 'j', resultBody: null, lastUpstreamStatus: null, errorMessage: null };
  it('embeds a completion verbatim', () => {
    const body = '{"id":"c","choices":[]}';
    expect(lineOutcome({ ...base, status: 'complete', resultBody: body })).toEqual({
      outcome: 'completed',
      response: `{"status_code":200,"request_id":"j","body":${body}}`,
      error: null,
    });
  });
  it("keeps a dead job's backend status in the response", () => {
    const outcome = lineOutcome({
      ...base,
      status: 'dead',
      lastUpstreamStatus: 400,
      errorMessage: 'bad',
    });
    expect(outcome.outcome).toBe('failed');
    expect(JSON.parse(outcome.response!)).toMatchObject({
      status_code: 400,
      body: { error: { message: 'bad' } },
    });
  });
  it('reports a dead job without a status as an error', () => {
    const outcome = lineOutcome({ ...base, status: 'dead', errorMessage: 'timeout' });
    expect(outcome).toMatchObject({ outcome: 'failed', response: null });
    expect(JSON.parse(outcome.error!)).toEqual({ code: 'upstream_error', message: 'timeout' });
  });
  it('reports expired and cancelled lines with their codes', () => {
    expect(JSON.parse(lineOutcome({ ...base, status: 'expired' }).error!).code).toBe(
      'batch_expired',
    );
    expect(JSON.parse(lineOutcome({ ...base, status: 'cancelled' }).error!).code).toBe(
      'batch_cancelled',
    );
  });
});
