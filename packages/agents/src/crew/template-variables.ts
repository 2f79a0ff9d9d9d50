const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/**
 * The distinct `{{variable}}` names used by a task description template, in order of first use.
 * The server uses this to validate run inputs before enqueueing a run.
 */
export function templateVariables(template: string): string[] {
  const names: string[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}

/** Fills `{{variable}}` placeholders. Callers check for missing variables first. */
export function renderTemplate(template: string, inputs: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => inputs[name] ?? whole);
}
