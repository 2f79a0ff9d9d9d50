// Configuration from the environment: what a self-hosting operator sets (a compose file, an .env)
// is read as meant, or refused at start with what to change, never misread quietly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-config-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const SECRET = 'x'.repeat(40);

test('empty variables count as unset (a compose file passes `X:-` defaults as "")', () => {
  const { config } = loadConfig(
    'serve',
    { dataDir },
    { TROUPE_SECRET: SECRET, TROUPE_HOST: '', DATABASE_URL: '', REDIS_URL: '' },
  );
  // Not listen(port, ''): that binds every interface whatever the mode's default.
  expect(config.host).toBe('0.0.0.0');
  expect(loadConfig('dev', { dataDir }, { TROUPE_HOST: '' }).config.host).toBe('127.0.0.1');
  const cwdData = loadConfig(
    'dev',
    {},
    { TROUPE_DATA_DIR: '', TROUPE_SECRET: SECRET, TROUPE_ADMIN_KEY: `trpa_${'a'.repeat(30)}` },
  );
  expect(cwdData.config.dataDir).toBe(path.resolve('.troupe'));
});

test('an admin key the server could never recognise is refused at start', () => {
  expect(() =>
    loadConfig(
      'serve',
      { dataDir },
      { TROUPE_SECRET: SECRET, TROUPE_ADMIN_KEY: 'Zm9vYmFyYmF6cXV4cXV1eHF1dXh4eHg=' },
    ),
  ).toThrow(/TROUPE_ADMIN_KEY must start with "trpa_"/);
  expect(
    loadConfig('serve', { dataDir }, { TROUPE_SECRET: SECRET, TROUPE_ADMIN_KEY: `trpa_${'b'.repeat(30)}` })
      .config.adminKey,
  ).toBe(`trpa_${'b'.repeat(30)}`);
});

test('a DATABASE_URL whose password was not percent-encoded is refused saying so, without printing it', () => {
  // ~60% of `openssl rand -base64` passwords hold a "/".
  const url = 'postgresql://troupe:s3cr/t+pa=ss@postgres:5432/troupe';
  let error: unknown;
  try {
    loadConfig('serve', { dataDir }, { TROUPE_SECRET: SECRET, DATABASE_URL: url });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect(String(error)).toMatch(/DATABASE_URL is not a valid URL.*percent-encoded/);
  expect(String(error)).not.toContain('s3cr');
  // Encoded, it is fine; so are socket URLs.
  const encoded = `postgresql://troupe:${encodeURIComponent('s3cr/t+pa=ss')}@postgres:5432/troupe`;
  expect(
    loadConfig('serve', { dataDir }, { TROUPE_SECRET: SECRET, DATABASE_URL: encoded }).config.databaseUrl,
  ).toBe(encoded);
  const socket = 'postgresql:///troupe?host=/var/run/postgresql';
  expect(
    loadConfig('serve', { dataDir }, { TROUPE_SECRET: SECRET, DATABASE_URL: socket }).config.databaseUrl,
  ).toBe(socket);
});
