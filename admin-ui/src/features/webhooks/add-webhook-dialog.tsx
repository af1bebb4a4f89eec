import { useState, type FormEvent } from 'react';
import { Button } from '../../components/ui/button';
import { Dialog } from '../../components/ui/dialog';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Field } from '../../components/ui/field';
import { ApiError } from '../../lib/api-client';
import { WEBHOOK_EVENTS, useCreateWebhookEndpoint } from './webhooks-api';

type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Adds an endpoint; `onCreated` receives the secret, which is shown once by the caller. */
export function AddWebhookDialog({
  tenantId,
  open,
  onClose,
  onCreated,
}: {
  tenantId: string;
  open: boolean;
  onClose: () => void;
  onCreated: (created: { url: string; secret: string }) => void;
}) {
  const create = useCreateWebhookEndpoint(tenantId);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<WebhookEvent>>(new Set(['job.completed']));
  const [formError, setFormError] = useState<string | null>(null);

  const close = () => {
    setUrl('');
    setEvents(new Set(['job.completed']));
    setFormError(null);
    create.reset();
    onClose();
  };

  const toggle = (event: WebhookEvent) =>
    setEvents((current) => {
      const next = new Set(current);
      if (next.has(event)) next.delete(event);
      else next.add(event);
      return next;
    });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = url.trim();
    if (!/^https?:\/\/\S+$/.test(trimmed)) {
      setFormError('Enter an http:// or https:// URL');
      return;
    }
    if (events.size === 0) {
      setFormError('Choose at least one event');
      return;
    }
    setFormError(null);
    create.mutate(
      { url: trimmed, events: WEBHOOK_EVENTS.filter((name) => events.has(name)), enabled: true },
      {
        onSuccess: (endpoint) => {
          onCreated({ url: endpoint.url, secret: endpoint.secret ?? '' });
          close();
        },
      },
    );
  };

  // The server's refusal of a URL (private address, bad scheme) reads best beside the field.
  const urlError =
    formError ??
    (create.error instanceof ApiError && create.error.param === 'url'
      ? create.error.message
      : null);
  return (
    <Dialog
      open={open}
      onClose={close}
      title="Add a webhook endpoint"
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" form="add-webhook" variant="primary" busy={create.isPending}>
            Add endpoint
          </Button>
        </>
      }
    >
      <form id="add-webhook" className="stack" onSubmit={submit} noValidate>
        <Field
          label="Endpoint URL"
          name="webhook-url"
          autoFocus
          placeholder="https://hooks.example.com/infq"
          hint="Must not be a loopback, private, link-local or metadata address."
          value={url}
          error={urlError}
          onChange={(event) => setUrl(event.target.value)}
        />
        <fieldset className="fieldset">
          <legend>Events</legend>
          <div className="chips">
            {WEBHOOK_EVENTS.map((name) => (
              <label key={name} className="chip">
                <input type="checkbox" checked={events.has(name)} onChange={() => toggle(name)} />{' '}
                {name}
              </label>
            ))}
          </div>
        </fieldset>
        {!(create.error instanceof ApiError && create.error.param === 'url') && (
          <ErrorBanner error={create.error} />
        )}
      </form>
    </Dialog>
  );
}
