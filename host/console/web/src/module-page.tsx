import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from './api';
import { Badge, SignatureBadge, StatusBadges } from './badges';
import { AuditTable } from './audit-table';
import { ms, percent, perSecond, time } from './format';
import { useJson, useLive } from './hooks';
import { InstanceList } from './instance-list';
import { ModuleActions } from './module-actions';
import { Sparkline } from './sparkline';
import { RouteList } from './route-list';
import type { ModuleDetail } from './types';

function LiveMetrics(props: { readonly code: string; readonly fallback: ModuleDetail['metrics'] }) {
  const feed = useLive();
  const rate = feed.rates.get(props.code);
  const snapshot = rate?.snapshot ?? props.fallback;
  // Percentiles of no request are not 0 ms: they are not known yet.
  const measured = (snapshot?.requests ?? 0) > 0;
  return (
    <section class="card" aria-labelledby="metrics-title">
      <h2 id="metrics-title">Live traffic <span class={`dot ${feed.connected ? 'on' : 'off'}`} title={feed.connected ? 'updating live' : 'reconnecting'} /></h2>
      <dl class="stats" aria-live="off">
        <div><dt>Requests</dt><dd data-metric="rate">{perSecond(rate?.requestsPerS ?? 0)}</dd></div>
        <div><dt>Errors (5xx)</dt><dd data-metric="errors">{percent(rate?.errorRate ?? 0)}</dd></div>
        <div><dt>p50</dt><dd>{ms(measured ? snapshot?.latencyMs.p50 : null)}</dd></div>
        <div><dt>p99</dt><dd>{ms(measured ? snapshot?.latencyMs.p99 : null)}</dd></div>
        <div><dt>In flight</dt><dd>{snapshot?.inFlight ?? 0}</dd></div>
        <div><dt>Total</dt><dd data-metric="total">{snapshot?.requests ?? 0}</dd></div>
      </dl>
      <Sparkline values={rate?.history ?? []} label={`${props.code}: requests per second over the last minute`} />
      <p class="muted small">Rates over the last second; p50 and p99 since the host started (this worker).</p>
    </section>
  );
}

function Compliance(props: { readonly code: string }) {
  const [text, setText] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const run = async (): Promise<void> => {
    setBusy(true);
    try {
      setText((await api<{ text: string }>(`/console/api/modules/${encodeURIComponent(props.code)}/compliance`)).text);
      setError(undefined);
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="compliance-title">
      <h2 id="compliance-title">Compliance</h2>
      <p class="muted small">The checker's static phase on the module directory as it is on disk now (what <code>erpmod check --static-only</code> prints).</p>
      <button type="button" onClick={() => void run()} disabled={busy}>{busy ? 'Checking…' : text === undefined ? 'Run the check' : 'Run again'}</button>
      {error !== undefined && <p class="error" role="alert">{error}</p>}
      {text !== undefined && <pre class="report">{text}</pre>}
    </section>
  );
}

/** One module: identity, live traffic, actions, audit trail, crashes, configuration, compliance. */
export function ModulePage(props: { readonly code: string }) {
  const feed = useLive();
  const detail = useJson<ModuleDetail>(`/console/api/modules/${encodeURIComponent(props.code)}`, 5000);
  const newest = feed.audit.find((event) => event.code === props.code)?.id;
  useEffect(() => detail.reload(), [newest]);
  const module = detail.data;
  if (module === undefined) {
    return <section>{detail.error !== undefined ? <p class="error" role="alert">{detail.error}</p> : <p class="muted">Loading…</p>}</section>;
  }
  return (
    <section aria-labelledby="module-title">
      <p><a href="#/">← All modules</a></p>
      <div class="page-head">
        <h1 id="module-title">{module.name} <span class="muted">{module.code} {module.version}</span></h1>
        <StatusBadges module={module} />
      </div>
      {module.description !== null && <p>{module.description}</p>}
      {module.lastError !== null && module.status !== 'active' && <p class="error">{module.lastError}</p>}
      <ModuleActions module={module} onDone={detail.reload} />
      <div class="grid">
        <LiveMetrics code={module.code} fallback={module.metrics} />
        <section class="card" aria-labelledby="facts-title">
          <h2 id="facts-title">Build</h2>
          <dl class="facts">
            <dt>Health</dt><dd><Badge value={module.health} /></dd>
            <dt>Isolation</dt><dd>{module.isolation ?? '—'}</dd>
            <dt>Execution</dt><dd>{module.execution ?? '—'}</dd>
            <dt>Signature</dt><dd><SignatureBadge signature={module.signature} /> <span class="small">{module.signature.summary}</span></dd>
            <dt>Binary SHA-256</dt><dd><code class="wrap">{module.binarySha256 ?? '—'}</code></dd>
            <dt>Loaded</dt><dd>{time(module.loadedAt)} in {ms(module.loadMs)}{module.generation !== null && ` (generation ${module.generation})`}</dd>
            <dt>Vendor</dt><dd>{module.vendor ?? '—'}</dd>
            <dt>Directory</dt><dd><code class="wrap">{module.moduleDir}</code></dd>
            <dt>Depends on</dt><dd>{module.dependencies.length === 0 ? '—' : module.dependencies.map((code) => <a key={code} href={`#/modules/${code}`} class="chip">{code}</a>)}</dd>
            <dt>Dependents</dt><dd>{module.dependents.length === 0 ? '—' : module.dependents.map((code) => <a key={code} href={`#/modules/${code}`} class="chip">{code}</a>)}</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="routes-title">
          <h2 id="routes-title">Routes</h2>
          <RouteList module={module} />
        </section>
        <section class="card" aria-labelledby="config-title">
          <h2 id="config-title">Configuration</h2>
          <p class="muted small">module.yml <code>config:</code>; values of keys that look like secrets are masked.</p>
          <pre class="report">{JSON.stringify(module.config, null, 2)}</pre>
        </section>
      </div>
      {module.instances !== null && (
        <section class="card" aria-labelledby="instances-title">
          <h2 id="instances-title">Instances in the fleet</h2>
          <p class="muted small">Each instance sharing this database, with its own state for the module. An instance not heard of for an hour is dropped from this list.</p>
          <InstanceList instances={module.instances} />
        </section>
      )}
      <section class="card" aria-labelledby="crashes-title">
        <h2 id="crashes-title">Crash records</h2>
        {module.crashes.length === 0 ? <p class="muted">No crash recorded.</p> : <AuditTable events={module.crashes} />}
      </section>
      <section class="card" aria-labelledby="audit-title">
        <h2 id="audit-title">Audit trail</h2>
        <AuditTable events={module.events} />
      </section>
      <Compliance code={module.code} />
    </section>
  );
}
