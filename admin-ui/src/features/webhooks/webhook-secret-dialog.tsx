import { Button } from '../../components/ui/button';
import { CopyButton } from '../../components/ui/copy-button';
import { Dialog } from '../../components/ui/dialog';

/**
 * Shows a signing secret exactly once. Until the admin confirms it is stored, the dialog cannot
 * be dismissed by Escape or a stray click.
 */
export function WebhookSecretDialog({
  secret,
  url,
  rotated,
  onClose,
}: {
  secret: string | null;
  url: string;
  rotated: boolean;
  onClose: () => void;
}) {
  return (
    <Dialog
      open={secret !== null}
      onClose={onClose}
      modal
      title={rotated ? 'Copy the new signing secret now' : 'Copy the signing secret now'}
      footer={
        <Button variant="primary" onClick={onClose}>
          I have stored the secret
        </Button>
      }
    >
      <div className="stack">
        <div className="banner banner-warning" role="alert">
          <div>
            <strong className="banner-title">This is the only time the secret is shown.</strong>
            If it is lost, rotate it to get a new one.
          </div>
        </div>
        <div className="secret">
          <code className="secret-value" data-testid="webhook-secret">
            {secret}
          </code>
          <CopyButton text={secret ?? ''} label="Copy secret" />
        </div>
        <p className="muted">
          Deliveries to <span className="mono">{url}</span> carry <code>webhook-id</code>,{' '}
          <code>webhook-timestamp</code> and <code>webhook-signature</code> (Standard Webhooks).
          {rotated && ' For 24 hours they are signed with the previous secret too.'}
        </p>
      </div>
    </Dialog>
  );
}
