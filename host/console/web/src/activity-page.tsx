import { AuditTable } from './audit-table';
import { useLive } from './hooks';

/** The registry's audit trail, every module, as it happens. */
export function ActivityPage() {
  const feed = useLive();
  return (
    <section aria-labelledby="activity-title">
      <div class="page-head">
        <h1 id="activity-title">Live activity</h1>
        <span class="muted"><span class={`dot ${feed.connected ? 'on' : 'off'}`} /> {feed.connected ? 'live' : 'reconnecting…'}</span>
      </div>
      <div class="card" aria-live="polite" aria-relevant="additions">
        <AuditTable events={feed.audit} showModule />
      </div>
    </section>
  );
}
