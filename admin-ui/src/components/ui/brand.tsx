/** The product mark and name, in the sidebar and on the sign-in card. */
export function Brand({ large = false }: { large?: boolean }) {
  return (
    <div className={large ? 'brand brand-large' : 'brand'}>
      <span className="brand-mark" aria-hidden>
        ≋
      </span>
      <span>
        infq <span className="brand-sub">admin</span>
      </span>
    </div>
  );
}
