import { Injectable } from '@nestjs/common';
import { AppError } from '../common/app-error.js';
import { ErrorCode } from '../common/error-code.js';
import type { ModelDto } from './dto/model.dto.js';
import { PISTACHIO_MODEL_PREFIX, UpstreamRegistry } from './upstream-registry.service.js';

/**
 * The models the backends serve, as their last probes reported them. Reads memory only, so a
 * slow or dead backend never slows a caller.
 */
@Injectable()
export class ModelCatalogService {
  constructor(private readonly registry: UpstreamRegistry) {}

  /**
   * Every model at least one healthy bus node serves, each once and sorted; with
   * `includePistachio`, a healthy Pistachio's models follow as `pistachio/<id>`.
   */
  list(options: { includePistachio: boolean }): ModelDto[] {
    const bus = new Set<string>();
    for (const node of this.registry.busNodes) {
      if (!node.health.isHealthy) continue;
      for (const model of node.health.models ?? []) bus.add(model);
    }
    const models: ModelDto[] = [...bus]
      .sort()
      .map((id) => ({ id, object: 'model', created: 0, owned_by: 'inference-bus' }));
    const pistachio = this.registry.pistachio;
    if (options.includePistachio && pistachio?.health.isHealthy) {
      for (const id of [...(pistachio.health.models ?? [])].sort()) {
        models.push({
          id: `${PISTACHIO_MODEL_PREFIX}${id}`,
          object: 'model',
          created: 0,
          owned_by: 'pistachio',
        });
      }
    }
    return models;
  }

  /**
   * Whether the bus's catalogue is known: every bus node has been probed at least once and at
   * least one answered. Until then no model is refused.
   */
  isBusCatalogueKnown(): boolean {
    const nodes = this.registry.busNodes;
    return (
      nodes.length > 0 &&
      nodes.every((node) => node.health.hasBeenProbed) &&
      nodes.some((node) => node.health.models !== undefined)
    );
  }

  /**
   * Throws 404 `model_not_found` when no configured backend serves `model`, judged by each
   * node's last known model list (down nodes included), and only while that list is known.
   * `pistachio/…` models are checked against Pistachio's list; without Pistachio they are refused.
   */
  assertServed(model: string): void {
    if (model.startsWith(PISTACHIO_MODEL_PREFIX)) {
      const pistachio = this.registry.pistachio;
      const upstreamModel = model.slice(PISTACHIO_MODEL_PREFIX.length);
      const known = pistachio?.health.models;
      if (!pistachio || (known && !known.has(upstreamModel))) throw modelNotFound(model);
      return;
    }
    if (!this.isBusCatalogueKnown()) return;
    const served = this.registry.busNodes.some((node) => node.health.models?.has(model));
    if (!served) throw modelNotFound(model);
  }
}

const modelNotFound = (model: string) =>
  new AppError(
    ErrorCode.ModelNotFound,
    `The model '${model}' does not exist: no configured backend serves it (see GET /v1/models)`,
    { param: 'model' },
  );
