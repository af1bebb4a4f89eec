import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../common/app-error.js';
import type { AppConfig } from '../config/app-config.js';
import { ModelCatalogService } from './model-catalog.service.js';
import { UpstreamRegistry } from './upstream-registry.service.js';

/** What each node's probes said: a model list, 'down' (three failures), or nothing yet. */
type NodeState = string[] | 'down' | 'unprobed' | { lastKnown: string[]; down: true };

// Health transitions are logged; not here.
Logger.overrideLogger(false);

const registries: UpstreamRegistry[] = [];
afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.onApplicationShutdown()));
});

function setup(bus: NodeState[], pistachio?: NodeState) {
  const config = {
    upstream: {
      busNodes: bus.map((_, index) => ({
        url: `http://10.0.0.${index + 1}:8000/v1`,
        stake: 1,
        maxInflight: 64,
      })),
      busApiKey: undefined,
      pistachioUrl: pistachio ? 'http://pistachio:8000/v1' : undefined,
      pistachioApiKey: undefined,
      pistachioMaxInflight: 64,
      timeoutMs: 1_000,
      probeIntervalMs: 1_000,
    },
  } as unknown as AppConfig;
  const registry = new UpstreamRegistry(config);
  registries.push(registry);
  const apply = (node: (typeof registry.busNodes)[number], state: NodeState) => {
    if (state === 'unprobed') return;
    if (Array.isArray(state)) return registry.recordProbeSuccess(node, state, 1);
    if (state !== 'down') registry.recordProbeSuccess(node, state.lastKnown, 1);
    for (let i = 0; i < 3; i++) registry.recordProbeFailure(node, 'refused', 1);
  };
  registry.busNodes.forEach((node, index) => apply(node, bus[index]));
  if (pistachio) apply(registry.pistachio!, pistachio);
  return { registry, catalog: new ModelCatalogService(registry) };
}

const ids = (catalog: ModelCatalogService, includePistachio = false) =>
  catalog.list({ includePistachio }).map((model) => `${model.id}:${model.owned_by}`);

describe('ModelCatalogService.list', () => {
  it.each<[string, NodeState[], NodeState | undefined, boolean, string[]]>([
    ['nothing before any probe answers', ['unprobed'], undefined, false, []],
    [
      'the union of healthy nodes, each once, sorted',
      [
        ['b', 'shared'],
        ['a', 'shared'],
      ],
      undefined,
      false,
      ['a:inference-bus', 'b:inference-bus', 'shared:inference-bus'],
    ],
    [
      'not the models of an unhealthy node',
      [['a'], { lastKnown: ['gone'], down: true }],
      undefined,
      false,
      ['a:inference-bus'],
    ],
    ['Pistachio only when asked', [['a']], ['x'], false, ['a:inference-bus']],
    [
      'Pistachio prefixed when asked',
      [['a']],
      ['x'],
      true,
      ['a:inference-bus', 'pistachio/x:pistachio'],
    ],
    [
      'not an unhealthy Pistachio',
      [['a']],
      { lastKnown: ['x'], down: true },
      true,
      ['a:inference-bus'],
    ],
  ])('%s', (_name, bus, pistachio, include, expected) => {
    expect(ids(setup(bus, pistachio).catalog, include)).toEqual(expected);
  });
});

describe('ModelCatalogService.assertServed', () => {
  it.each<[string, NodeState[], NodeState | undefined, string, boolean]>([
    ['a served model', [['a'], ['b']], undefined, 'b', true],
    ['an unknown model', [['a'], ['b']], undefined, 'c', false],
    [
      'a model of a node that is down now',
      [['a'], { lastKnown: ['b'], down: true }],
      undefined,
      'b',
      true,
    ],
    ['anything before the first probe round ends', [['a'], 'unprobed'], undefined, 'c', true],
    ['anything when no node ever answered', ['down', 'down'], undefined, 'c', true],
    ['anything with no bus node configured', [], undefined, 'c', true],
    ['a probed round with one answer', [['a'], 'down'], undefined, 'c', false],
    ['a Pistachio model', [['a']], ['x'], 'pistachio/x', true],
    ['an unknown Pistachio model', [['a']], ['x'], 'pistachio/y', false],
    ['any Pistachio model before Pistachio answers', [['a']], 'unprobed', 'pistachio/y', true],
    ['a Pistachio model without Pistachio', [['a']], undefined, 'pistachio/x', false],
    ['a bus model named like a Pistachio one', [['x']], ['x'], 'x', true],
  ])('%s', (_name, bus, pistachio, model, served) => {
    const { catalog } = setup(bus, pistachio);
    if (served) {
      expect(() => catalog.assertServed(model)).not.toThrow();
    } else {
      expect(() => catalog.assertServed(model)).toThrow(
        expect.objectContaining({ code: 'model_not_found', status: 404, param: 'model' }),
      );
      expect(() => catalog.assertServed(model)).toThrow(AppError);
    }
  });
});

describe('UpstreamRegistry.route', () => {
  it.each<[string, NodeState[], NodeState | undefined, string, number[], RegExp | undefined]>([
    [
      'every healthy node serving the model',
      [['a'], ['a'], ['b']],
      undefined,
      'a',
      [0, 1],
      undefined,
    ],
    ['a node before its first probe', ['unprobed', ['b']], undefined, 'a', [0], undefined],
    [
      'not an unhealthy node',
      [{ lastKnown: ['a'], down: true }, ['a']],
      undefined,
      'a',
      [1],
      undefined,
    ],
    [
      'none: says why',
      [{ lastKnown: ['a'], down: true }],
      undefined,
      'a',
      [],
      /0 of 1 nodes healthy/,
    ],
    ['none configured', [], undefined, 'a', [], /no Inference Bus node is configured/],
    ['Pistachio without the prefix', [['a']], ['x'], 'pistachio/x', [-1], undefined],
    [
      'Pistachio not serving the model',
      [['a']],
      ['x'],
      'pistachio/y',
      [],
      /does not serve model y/,
    ],
    ['Pistachio down', [['a']], 'down', 'pistachio/x', [], /Pistachio is unhealthy/],
    ['Pistachio not configured', [['a']], undefined, 'pistachio/x', [], /not configured/],
  ])('%s', (_name, bus, pistachio, model, expected, reason) => {
    const { registry } = setup(bus, pistachio);
    const route = registry.route(model);
    const index = (node: (typeof route.nodes)[number]) =>
      node === registry.pistachio ? -1 : registry.busNodes.indexOf(node);
    expect(route.nodes.map(index).sort()).toEqual(expected);
    if (reason) expect(route.unavailableReason).toMatch(reason);
    else expect(route.unavailableReason).toBeUndefined();
    if (model.startsWith('pistachio/')) expect(route.upstreamModel).toBe(model.slice(10));
  });

  it('counts live connection failures towards marking a node down, and tells listeners', () => {
    const { registry } = setup([['a']]);
    const [node] = registry.busNodes;
    const seen: string[] = [];
    registry.onNodeUnhealthy((down) => seen.push(down.url));
    for (let i = 0; i < 3; i++) {
      const call = registry.startCall(node);
      expect(node.health.snapshot(0).inFlight).toBe(1);
      call.fail({ kind: 'connection', node: node.url, message: 'refused' });
      call.succeed(); // ignored: a call ends once
    }
    expect(seen).toEqual([node.url]);
    expect(registry.route('a').nodes).toEqual([]);
    expect(node.health.snapshot(0).inFlight).toBe(0);
  });
});
