import { useState, type FormEvent } from 'react';
import { Button } from '../../components/ui/button';
import { CopyButton } from '../../components/ui/copy-button';
import { Dialog } from '../../components/ui/dialog';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Field } from '../../components/ui/field';
import { useIssueApiKey } from './api-keys-api';

/**
 * Issues a key and shows it exactly once. Until the admin confirms it is stored, the dialog
 * cannot be dismissed by Escape or a stray click.
 */
export function IssueKeyDialog({
  tenantId,
  tenantName,
  open,
  onClose,
}: {
  tenantId: string;
  tenantName: string;
  open: boolean;
  onClose: () => void;
}) {
  const issue = useIssueApiKey(tenantId);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const issued = issue.data;

  const close = () => {
    setName('');
    setNameError(null);
    issue.reset();
    onClose();
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed.length > 100) {
      setNameError('At most 100 characters');
      return;
    }
    setNameError(null);
    issue.mutate(trimmed ? { name: trimmed } : {});
  };

  if (issued) {
    return (
      <Dialog
        open={open}
        onClose={close}
        modal
        title="Copy the new key now"
        footer={
          <Button variant="primary" onClick={close}>
            I have stored the key
          </Button>
        }
      >
        <div className="stack">
          <div className="banner banner-warning" role="alert">
            <div>
              <strong className="banner-title">This is the only time the key is shown.</strong>
              infq keeps only a hash of it. If it is lost, revoke it and issue a new one.
            </div>
          </div>
          <div className="secret">
            <code className="secret-value" data-testid="issued-key">
              {issued.key}
            </code>
            <CopyButton text={issued.key} label="Copy key" />
          </div>
          <p className="muted">
            Key <strong>{issued.name}</strong> for tenant <strong>{tenantName}</strong>. Send it as{' '}
            <code>Authorization: Bearer inf_…</code> or <code>X-API-Key</code>.
          </p>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog
      open={open}
      onClose={close}
      title={`Issue a key for ${tenantName}`}
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" form="issue-key" variant="primary" busy={issue.isPending}>
            Issue key
          </Button>
        </>
      }
    >
      <form id="issue-key" className="stack" onSubmit={submit} noValidate>
        <Field
          label="Key name"
          name="key-name"
          autoFocus
          placeholder="e.g. production, ci, laptop"
          hint="Helps you tell keys apart; defaults to “default”."
          value={name}
          error={nameError}
          onChange={(event) => setName(event.target.value)}
        />
        <ErrorBanner error={issue.error} />
      </form>
    </Dialog>
  );
}
