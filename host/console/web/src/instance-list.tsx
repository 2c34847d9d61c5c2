import { Badge } from './badges';
import { shortHash, time } from './format';
import type { Instance } from './types';

const LIVENESS: Record<string, { readonly label: string; readonly title: string }> = {
  true: { label: 'live', title: 'heard of within the last 15 s' },
  false: { label: 'not live', title: 'not heard of for more than 15 s: stopped, cut off, or stuck' },
  null: { label: 'unknown', title: 'an instance of an earlier erpmod version, which does not say whether it is alive' },
};

/** A fleet's instances with a state for one module: which are alive, what each loaded. */
export function InstanceList(props: { readonly instances: readonly Instance[] }) {
  if (props.instances.length === 0) return <p class="muted">No instance has recorded this module yet.</p>;
  return (
    <table class="audit" data-testid="instances">
      <thead>
        <tr><th scope="col">Instance</th><th scope="col">Alive</th><th scope="col">Status</th><th scope="col">Last seen</th><th scope="col">Build</th><th scope="col">Loaded</th></tr>
      </thead>
      <tbody>
        {props.instances.map((instance) => {
          const liveness = LIVENESS[String(instance.live)]!;
          return (
            <tr key={instance.instance} data-instance={instance.instance}>
              <td data-label="Instance"><div class="cell">{instance.instance}</div></td>
              <td data-label="Alive"><div class="cell"><span class={`badge ${instance.live === true ? 'good' : instance.live === false ? 'bad' : 'muted'}`} title={liveness.title}>{liveness.label}</span></div></td>
              <td data-label="Status"><div class="cell"><Badge value={instance.status} title={instance.lastError ?? undefined} /></div></td>
              <td data-label="Last seen" class="nowrap"><div class="cell">{time(instance.lastSeenAt)}</div></td>
              <td data-label="Build"><div class="cell"><code title={instance.binarySha256 ?? undefined}>{shortHash(instance.binarySha256)}</code></div></td>
              <td data-label="Loaded" class="nowrap"><div class="cell">{time(instance.loadedAt)}</div></td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
