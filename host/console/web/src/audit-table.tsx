import { detailText, time } from './format';
import type { AuditEvent } from './types';

/** plugin_events rows, newest first. */
export function AuditTable(props: { readonly events: readonly AuditEvent[]; readonly showModule?: boolean }) {
  if (props.events.length === 0) return <p class="muted">Nothing recorded yet.</p>;
  // In a fleet every event names the instance it happened on.
  const showInstance = props.events.some((event) => event.instance !== undefined);
  return (
    <table class="audit">
      <thead>
        <tr><th scope="col">When</th>{props.showModule && <th scope="col">Module</th>}{showInstance && <th scope="col">Instance</th>}<th scope="col">Event</th><th scope="col">Detail</th></tr>
      </thead>
      <tbody>
        {props.events.map((event) => (
          <tr key={event.id} data-event={event.kind}>
            <td data-label="When" class="nowrap"><div class="cell">{time(event.at)}</div></td>
            {props.showModule && <td data-label="Module"><div class="cell"><a href={`#/modules/${event.code ?? ''}`}>{event.code}</a></div></td>}
            {showInstance && <td data-label="Instance"><div class="cell">{event.instance ?? '—'}</div></td>}
            <td data-label="Event"><div class="cell"><span class={`kind kind-${event.kind}`}>{event.kind}</span></div></td>
            <td data-label="Detail" class="detail"><div class="cell">{detailText(event.detail)}</div></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
