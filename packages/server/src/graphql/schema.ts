import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './types/enums.js';
import './types/tenant.js';
import './types/api-key.js';
import './types/session-token.js';
import './types/crew.js';
import './types/run.js';
import './types/thread.js';
import './types/webhook.js';
import './types/document.js';

export const schema = builder.toSchema({ sortSchema: true });

/** The SDL committed as schema.graphql (sorted, so diffs stay readable). */
export function printTroupeSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
