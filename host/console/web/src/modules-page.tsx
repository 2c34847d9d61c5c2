import { useEffect, useState } from 'preact/hooks';
import { Badge, SignatureBadge, StatusBadges } from './badges';
import { count, ms, shortHash, time } from './format';
import { useJson, useLive } from './hooks';
import { RouteList } from './route-list';
import type { ModuleView } from './types';

function matches(module: ModuleView, filter: string): boolean {
  if (filter === '') return true;
  const haystack = [module.code, module.name, module.version, module.status, module.health, module.isolation ?? '', module.signature.state,
    ...module.routes.map((route) => route.path)].join(' ').toLowerCase();
  return filter.toLowerCase().split(/\s+/).every((word) => haystack.includes(word));
}

/** Every module the host knows, refreshed every few seconds and whenever the audit trail moves. */
export function ModulesPage() {
  const feed = useLive();
  const modules = useJson<{ modules: ModuleView[] }>('/console/api/modules', 5000);
  const [filter, setFilter] = useState('');
  const newest = feed.audit[0]?.id;
  useEffect(() => modules.reload(), [newest]);
  const shown = (modules.data?.modules ?? []).filter((module) => matches(module, filter.trim()));
  return (
    <section aria-labelledby="modules-title">
      <div class="page-head">
        <h1 id="modules-title">Modules</h1>
        <label class="filter">
          <span class="visually-hidden">Filter modules</span>
          <input type="search" placeholder="Filter: code, status, route…" value={filter}
            onInput={(event) => setFilter((event.target as HTMLInputElement).value)} />
        </label>
      </div>
      {modules.error !== undefined && <p class="error" role="alert">{modules.error}</p>}
      {modules.data === undefined && modules.error === undefined && <p class="muted">Loading…</p>}
      {modules.data !== undefined && (
        <table class="modules">
          <thead>
            <tr>
              <th scope="col">Module</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Health</th>
              <th scope="col">Isolation</th><th scope="col">Execution</th><th scope="col">Binary SHA-256</th><th scope="col">Signature</th>
              <th scope="col">Loaded</th><th scope="col">Routes</th><th scope="col">Dependents</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((module) => {
              const rate = feed.rates.get(module.code);
              return (
                <tr key={module.code} data-code={module.code}>
                  <td data-label="Module"><div class="cell">
                    <a href={`#/modules/${module.code}`} class="module-link"><strong>{module.code}</strong></a>
                    <div class="muted small">{module.name}</div>
                  </div></td>
                  <td data-label="Version"><div class="cell">{module.version}</div></td>
                  <td data-label="Status"><div class="cell"><StatusBadges module={module} /></div></td>
                  <td data-label="Health"><div class="cell">
                    <Badge value={module.health} />
                    {rate !== undefined && <div class="muted small">{count(rate.snapshot.requests, 'request')}</div>}
                  </div></td>
                  <td data-label="Isolation"><div class="cell">{module.isolation ?? '—'}</div></td>
                  <td data-label="Execution"><div class="cell">{module.execution ?? '—'}</div></td>
                  <td data-label="SHA-256"><div class="cell"><code title={module.binarySha256 ?? ''}>{shortHash(module.binarySha256)}</code></div></td>
                  <td data-label="Signature"><div class="cell"><SignatureBadge signature={module.signature} /></div></td>
                  <td data-label="Loaded"><div class="cell">{time(module.loadedAt)}<div class="muted small">{ms(module.loadMs)}</div></div></td>
                  <td data-label="Routes"><div class="cell">
                    <details>
                      <summary>{count(module.routes.length, 'route')}</summary>
                      <RouteList module={module} />
                    </details>
                  </div></td>
                  <td data-label="Dependents"><div class="cell">{module.dependents.length === 0 ? '—' : module.dependents.join(', ')}</div></td>
                </tr>
              );
            })}
            {shown.length === 0 && <tr><td colSpan={11} class="muted">No module matches “{filter}”.</td></tr>}
          </tbody>
        </table>
      )}
    </section>
  );
}
