import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookEndpoint,
  WebhookEndpointCreateRequest,
  WebhookEndpointList,
  WebhookEndpointUpdateRequest,
} from '../../api/types';
import { adminApi, apiRequest } from '../../lib/api-client';

/** Every event an endpoint can subscribe to, in the order the API lists them. */
export const WEBHOOK_EVENTS = [
  'job.completed',
  'job.dead',
  'job.cancelled',
  'job.expired',
  'batch.completed',
  'batch.failed',
  'batch.expired',
  'batch.cancelled',
] as const;

const endpointsKey = (tenantId: string) => ['tenants', tenantId, 'webhooks'] as const;
const deliveriesKey = (endpointId: string) => ['webhooks', endpointId, 'deliveries'] as const;

export function useWebhookEndpoints(tenantId: string) {
  return useQuery({
    queryKey: endpointsKey(tenantId),
    queryFn: async () =>
      (
        await apiRequest<WebhookEndpointList>(
          'GET',
          adminApi(`/tenants/${encodeURIComponent(tenantId)}/webhooks`),
        )
      ).data,
    refetchInterval: 10_000,
  });
}

export function useCreateWebhookEndpoint(tenantId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: WebhookEndpointCreateRequest) =>
      apiRequest<WebhookEndpoint>(
        'POST',
        adminApi(`/tenants/${encodeURIComponent(tenantId)}/webhooks`),
        body,
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: endpointsKey(tenantId) }),
  });
}

export function useUpdateWebhookEndpoint(tenantId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: WebhookEndpointUpdateRequest }) =>
      apiRequest<WebhookEndpoint>('PATCH', adminApi(`/webhooks/${encodeURIComponent(id)}`), body),
    onSuccess: () => void client.invalidateQueries({ queryKey: endpointsKey(tenantId) }),
  });
}

export function useDeleteWebhookEndpoint(tenantId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      apiRequest<unknown>('DELETE', adminApi(`/webhooks/${encodeURIComponent(id)}`)),
    onSuccess: () => void client.invalidateQueries({ queryKey: endpointsKey(tenantId) }),
  });
}

export function useWebhookDeliveries(endpointId: string) {
  return useQuery({
    queryKey: deliveriesKey(endpointId),
    queryFn: async () =>
      (
        await apiRequest<WebhookDeliveryList>(
          'GET',
          adminApi(`/webhooks/${encodeURIComponent(endpointId)}/deliveries?limit=20`),
        )
      ).data,
    refetchInterval: 3_000,
  });
}

export function useRedeliver(endpointId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (deliveryId: string) =>
      apiRequest<WebhookDelivery>(
        'POST',
        adminApi(`/deliveries/${encodeURIComponent(deliveryId)}/redeliver`),
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: deliveriesKey(endpointId) }),
  });
}
