/** Raised when a migration fails. The failed migration's changes are rolled back. */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migration: string | undefined,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}
