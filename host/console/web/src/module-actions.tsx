import { useState } from 'preact/hooks';
import { api, messageOf } from './api';
import { ConfirmDialog } from './confirm-dialog';
import type { ModuleView } from './types';

type Action = 'reload' | 'enable' | 'disable';
/** What the module is once an action succeeded, for the confirmation line. */
const DONE: Record<Action, string> = { reload: 'reloaded', enable: 'enabled', disable: 'disabled' };

function question(action: Action, module: ModuleView): string {
  switch (action) {
    case 'reload':
      return `The host loads the build now in the module directory and swaps it in; requests in flight finish on the running one.`;
    case 'enable':
      return `Its routes serve again.`;
    case 'disable':
      return module.dependents.length === 0
        ? 'Its routes answer 503 until it is enabled again.'
        : `Its routes answer 503 until it is enabled again. Modules that depend on it: ${module.dependents.join(', ')} (the host refuses while they serve).`;
  }
}

/** Reload / enable / disable, each after a confirmation; the host's answer, or its refusal, is shown. */
export function ModuleActions(props: { readonly module: ModuleView; readonly onDone: () => void }) {
  const { module } = props;
  const [asking, setAsking] = useState<Action | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>(undefined);

  const run = async (action: Action): Promise<void> => {
    setAsking(undefined);
    setBusy(true);
    setOutcome(undefined);
    try {
      await api(`/plugins/${encodeURIComponent(module.code)}/${action}`, 'POST');
      setOutcome({ ok: true, text: `${module.code} ${DONE[action]}.` });
    } catch (error) {
      setOutcome({ ok: false, text: `${action} refused — ${messageOf(error)}` });
    } finally {
      setBusy(false);
      props.onDone();
    }
  };

  return (
    <div class="module-actions">
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => setAsking('reload')}>Reload</button>
        {module.enabled
          ? <button type="button" class="danger" disabled={busy} onClick={() => setAsking('disable')}>Disable</button>
          : <button type="button" class="primary" disabled={busy} onClick={() => setAsking('enable')}>Enable</button>}
      </div>
      {outcome !== undefined && <p class={outcome.ok ? 'notice' : 'error'} role={outcome.ok ? 'status' : 'alert'}>{outcome.text}</p>}
      {asking !== undefined && (
        <ConfirmDialog title={`${asking[0]!.toUpperCase()}${asking.slice(1)} ${module.code}?`} confirmLabel={`${asking[0]!.toUpperCase()}${asking.slice(1)}`}
          danger={asking === 'disable'} onConfirm={() => void run(asking)} onCancel={() => setAsking(undefined)}>
          <p>{question(asking, module)}</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
