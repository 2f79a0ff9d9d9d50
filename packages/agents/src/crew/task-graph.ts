import { AgentsError } from '../errors/agents-error.js';
import type { TaskDefinition } from './crew-definition.js';

/**
 * Checks that every `dependsOn` names a known task and that there is no cycle.
 * Returns the tasks in a topological order that keeps definition order where possible.
 */
export function orderTasks(tasks: readonly TaskDefinition[]): TaskDefinition[] {
  const byName = new Map<string, TaskDefinition>();
  for (const task of tasks) {
    if (byName.has(task.name)) {
      throw new AgentsError(
        'INVALID_CREW',
        `Task name "${task.name}" is used twice; task names must be unique.`,
        {
          details: { taskName: task.name, field: 'tasks.name' },
        },
      );
    }
    byName.set(task.name, task);
  }
  for (const task of tasks) {
    for (const dep of task.dependsOn ?? []) {
      if (!byName.has(dep)) {
        throw new AgentsError('INVALID_CREW', `Task "${task.name}" depends on unknown task "${dep}".`, {
          details: { taskName: task.name, field: 'tasks.dependsOn' },
        });
      }
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const ordered: TaskDefinition[] = [];
  const visit = (task: TaskDefinition, path: string[]): void => {
    const current = state.get(task.name);
    if (current === 'done') return;
    if (current === 'visiting') {
      const cycle = [...path.slice(path.indexOf(task.name)), task.name];
      throw new AgentsError('INVALID_CREW', `Task dependencies form a cycle: ${cycle.join(' -> ')}.`, {
        details: { taskName: task.name, field: 'tasks.dependsOn' },
      });
    }
    state.set(task.name, 'visiting');
    for (const dep of task.dependsOn ?? []) visit(byName.get(dep)!, [...path, task.name]);
    state.set(task.name, 'done');
    ordered.push(task);
  };
  for (const task of tasks) visit(task, []);
  return ordered;
}
