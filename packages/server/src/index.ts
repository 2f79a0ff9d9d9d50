export { SCOPES, type Scope } from './auth/scopes.js';
export {
  ConfigError,
  type ConfigOverrides,
  type LoadedConfig,
  loadConfig,
  type Mode,
  type TroupeConfig,
} from './config.js';
export { applyMigrations, MigrationError, type MigrationTarget, pendingMigrations } from './db/migrate.js';
export { ERROR_CODES, type ErrorCode, TroupeServerError } from './errors.js';
export { printTroupeSchema } from './graphql/schema.js';
export { startTroupeServer, type TroupeServerHandle } from './public-server.js';
