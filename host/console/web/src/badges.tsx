import type { ModuleView, Signature } from './types';

const TONE: Record<string, string> = {
  active: 'good', serving: 'good', valid: 'good',
  inactive: 'muted', disabled: 'warn', off: 'muted', 'not-serving': 'bad', untrusted: 'warn', unsigned: 'muted',
  failed: 'bad', rejected: 'bad', blocked: 'bad', tampered: 'bad', malformed: 'bad', unreadable: 'bad',
};

export function Badge(props: { readonly value: string; readonly title?: string }) {
  return <span class={`badge ${TONE[props.value] ?? 'muted'}`} title={props.title}>{props.value}</span>;
}

export function SignatureBadge(props: { readonly signature: Signature }) {
  const { signature } = props;
  const label = signature.state === 'valid' && signature.keyId !== null ? `valid · ${signature.keyId.slice(0, 8)}` : signature.state;
  return <span class={`badge ${TONE[signature.state] ?? 'muted'}`} title={signature.summary}>{label}</span>;
}

export function StatusBadges(props: { readonly module: ModuleView }) {
  const { module } = props;
  return (
    <span class="badges">
      <Badge value={module.status} title={module.lastError ?? undefined} />
      {!module.enabled && <Badge value="disabled" title="switched off by an operator" />}
    </span>
  );
}
