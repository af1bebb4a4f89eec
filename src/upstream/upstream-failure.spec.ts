import { describe, expect, it } from 'vitest';
import {
  describeFailure,
  describeFailureInDetail,
  labelUpstreamNodes,
  maskAddresses,
  UpstreamFailureError,
  type UpstreamFailure,
} from './upstream-failure.js';

labelUpstreamNodes([
  { url: 'http://bus:s3cret@gpu-7.internal.example:8000/v1', label: 'bus node 2' },
  { url: 'https://pistachio.corp.example/v1', label: 'pistachio' },
]);

describe('describeFailure', () => {
  it.each<[string, UpstreamFailure, string]>([
    [
      'a refused connection',
      {
        kind: 'connection',
        node: 'http://bus:s3cret@gpu-7.internal.example:8000/v1',
        message: 'ECONNREFUSED connect ECONNREFUSED 10.0.0.7:8000',
      },
      'backend unreachable (bus node 2): ECONNREFUSED connect ECONNREFUSED [address]',
    ],
    [
      'a timeout',
      {
        kind: 'timeout',
        node: 'https://pistachio.corp.example/v1',
        message: 'no answer within 120000 ms',
      },
      'backend timed out (pistachio): no answer within 120000 ms',
    ],
    [
      'a backend message naming hosts',
      {
        kind: 'http',
        node: 'http://bus:s3cret@gpu-7.internal.example:8000/v1',
        status: 503,
        message:
          'upstream gpu-7.internal.example down; see http://grafana.corp/d/1 or [fd00::1]:9000',
      },
      'backend returned 503: upstream bus node 2 down; see [url] or [address]',
    ],
    [
      'an unlabelled node',
      { kind: 'invalid_response', node: 'http://10.1.1.1:81/v1', message: 'body is not JSON' },
      'backend sent an invalid response (a backend node): body is not JSON',
    ],
  ])('hides URLs and hosts from tenants: %s', (_name, failure, shown) => {
    expect(describeFailure(failure)).toBe(shown);
    expect(describeFailure(failure)).not.toMatch(/s3cret|internal\.example|10\.0\.0\.7|corp/);
  });

  it('keeps the full text for admins, credentials masked', () => {
    const error = new UpstreamFailureError({
      kind: 'connection',
      node: 'http://bus:s3cret@gpu-7.internal.example:8000/v1',
      message: 'ECONNRESET socket hang up',
    });
    expect(error.message).toBe('backend unreachable (bus node 2): ECONNRESET socket hang up');
    expect(error.detail).toBe(
      'backend unreachable (http://***@gpu-7.internal.example:8000/v1): ECONNRESET socket hang up',
    );
    expect(describeFailureInDetail(error.failure)).toBe(error.detail);
  });

  it('leaves ordinary text alone', () => {
    expect(maskAddresses('maximum context length is 4096 tokens (status:400)')).toBe(
      'maximum context length is 4096 tokens (status:400)',
    );
  });
});
