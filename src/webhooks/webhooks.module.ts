import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { runsApi, runsWorker, type AppConfig } from '../config/app-config.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { WebhookClient } from './webhook.client.js';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor.js';
import { WebhookDelivery } from './webhook-delivery.entity.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { WebhookEndpoint } from './webhook-endpoint.entity.js';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';
import { WebhookProducer } from './webhook.producer.js';
import { WEBHOOK_QUEUE } from './webhook-queue.js';
import { WebhooksAdminController } from './webhooks.admin.controller.js';
import { WebhooksService } from './webhooks.service.js';

/**
 * Webhook endpoints and their deliveries. Must come after `JobsModule.forRoot` in the imports:
 * the queue is registered with the backend classes that it selects.
 */
@Module({})
export class WebhooksModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [
      WebhookEndpointsRepository,
      WebhookDeliveriesRepository,
      WebhookClient,
      WebhookEndpointsService,
      WebhookProducer,
      WebhooksService,
    ];
    if (runsWorker(config)) providers.push(WebhookDeliveryProcessor);
    return {
      module: WebhooksModule,
      imports: [
        TypeOrmModule.forFeature([WebhookEndpoint, WebhookDelivery]),
        BullModule.registerQueue({ name: WEBHOOK_QUEUE }),
        TenantsModule,
      ],
      controllers: runsApi(config) ? [WebhooksAdminController] : [],
      providers,
      exports: [WebhooksService],
    };
  }
}
