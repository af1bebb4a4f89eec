import { useState, type FormEvent } from 'react';
import { Button } from '../../components/ui/button';
import { ErrorBanner } from '../../components/ui/error-banner';
import { Field } from '../../components/ui/field';
import { useSignIn } from './session-api';

export function SignInForm({ onSignedIn }: { onSignedIn: () => void }) {
  const signIn = useSignIn();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    signIn.mutate({ email, password }, { onSuccess: onSignedIn });
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <Field
        label="Email"
        type="email"
        name="email"
        autoComplete="username"
        autoFocus
        required
        value={email}
        onChange={(event) => setEmail(event.target.value)}
      />
      <Field
        label="Password"
        type="password"
        name="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(event) => setPassword(event.target.value)}
      />
      <ErrorBanner error={signIn.error} />
      <Button
        type="submit"
        variant="primary"
        busy={signIn.isPending}
        disabled={!email || !password}
        className="btn-block"
      >
        Sign in
      </Button>
    </form>
  );
}
