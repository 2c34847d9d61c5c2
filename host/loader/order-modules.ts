import { ErpmodError } from '../errors';

export interface DependencyNode {
  readonly code: string;
  readonly dependencies: readonly string[];
}

export interface ModuleOrder {
  /** Codes in load order: every module after all its dependencies. Excludes modules in `problems`. */
  readonly order: string[];
  /** Modules that cannot be ordered: a dependency that no module declares, or a cycle (named in full). */
  readonly problems: Map<string, ErpmodError>;
}

/**
 * Topological order by `dependencies`, stable by code among equals. A cycle is reported on every module
 * in it with the whole chain (`sales -> inventory -> sales`).
 */
export function orderModules(nodes: readonly DependencyNode[]): ModuleOrder {
  const byCode = new Map(nodes.map((node) => [node.code, node]));
  const problems = new Map<string, ErpmodError>();

  for (const node of nodes) {
    const missing = node.dependencies.filter((dependency) => !byCode.has(dependency));
    if (missing.length > 0) {
      problems.set(
        node.code,
        new ErpmodError(
          'ERPMOD_DEPENDENCY_MISSING',
          `module "${node.code}" depends on ${missing.map((code) => `"${code}"`).join(', ')}, but no module in the modules directory declares that code`,
          { details: { missing } },
        ),
      );
    }
  }

  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const stack: string[] = [];

  const visit = (code: string): void => {
    const mark = state.get(code);
    if (mark === 'done') return;
    if (mark === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(code)), code];
      const chain = cycle.join(' -> ');
      for (const member of cycle) {
        if (!problems.has(member)) {
          problems.set(member, new ErpmodError('ERPMOD_DEPENDENCY_CYCLE', `module dependencies form a cycle: ${chain}`, { details: { cycle } }));
        }
      }
      return;
    }
    state.set(code, 'visiting');
    stack.push(code);
    for (const dependency of [...(byCode.get(code)?.dependencies ?? [])].sort()) {
      if (byCode.has(dependency)) visit(dependency);
    }
    stack.pop();
    state.set(code, 'done');
    order.push(code);
  };

  for (const code of [...byCode.keys()].sort()) visit(code);
  return { order: order.filter((code) => !problems.has(code)), problems };
}
