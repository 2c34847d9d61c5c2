import type { ModuleView } from './types';

/** A module's declared routes; a route whose execution differs from the module's says so. */
export function RouteList(props: { readonly module: ModuleView }) {
  const { module } = props;
  return (
    <ul class="routes">
      {module.routes.map((route) => (
        <li key={`${route.method} ${route.path}`}>
          <code>{route.method} {route.path}</code>
          {route.execution !== null && route.execution !== module.execution && <span class="muted small"> · {route.execution}</span>}
        </li>
      ))}
    </ul>
  );
}
