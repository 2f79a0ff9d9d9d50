import type { CrewDefinition } from './crew-definition.js';

export interface CachedCrewVersion {
  id: string;
  definition: CrewDefinition;
}

const LIMIT = 500;

/**
 * Crew versions are immutable snapshots, so one read under a tenant's row-level security can serve
 * every later run of that version: startRun looks a version up by crew and number, the executor by
 * id. Entries only come from rows a tenant could read, and are only found through ids that tenant
 * just read (its crew's current version, its run's pinned one). Least recently used go first.
 */
export class CrewVersionCache {
  readonly #byId = new Map<string, CachedCrewVersion>();
  readonly #byNumber = new Map<string, CachedCrewVersion>();
  readonly #current = new Map<string, { version: number; entry: CachedCrewVersion }>();

  /**
   * The version a tenant last read as its crew's current one: a guess for startRun, which only
   * uses it in a statement that checks the crew (under the tenant's RLS) is still at that version.
   */
  current(tenantId: string, crewId: string): { version: number; entry: CachedCrewVersion } | undefined {
    return this.#current.get(`${tenantId}:${crewId}`);
  }

  setCurrent(tenantId: string, crewId: string, version: number, entry: CachedCrewVersion): void {
    const key = `${tenantId}:${crewId}`;
    this.#current.delete(key);
    this.#current.set(key, { version, entry });
    if (this.#current.size > LIMIT) this.#current.delete(this.#current.keys().next().value!);
  }

  byId(id: string): CachedCrewVersion | undefined {
    const hit = this.#byId.get(id);
    if (hit) this.#touch(hit);
    return hit;
  }

  byNumber(crewId: string, version: number): CachedCrewVersion | undefined {
    const hit = this.#byNumber.get(`${crewId}:${version}`);
    if (hit) this.#touch(hit);
    return hit;
  }

  add(v: { id: string; crewId: string; version: number; definition: unknown }): CachedCrewVersion {
    const entry = { id: v.id, definition: v.definition as CrewDefinition, key: `${v.crewId}:${v.version}` };
    this.#byId.set(v.id, entry);
    this.#byNumber.set(entry.key, entry);
    while (this.#byId.size > LIMIT) {
      const [oldest] = this.#byId.values() as IterableIterator<CachedCrewVersion & { key: string }>;
      this.#byId.delete(oldest!.id);
      this.#byNumber.delete(oldest!.key);
    }
    return entry;
  }

  #touch(entry: CachedCrewVersion): void {
    this.#byId.delete(entry.id);
    this.#byId.set(entry.id, entry);
  }
}

const caches = new WeakMap<object, CrewVersionCache>();

/** The cache of one database (tests open many in one process). */
export function crewVersionCache(database: object): CrewVersionCache {
  let c = caches.get(database);
  if (!c) {
    c = new CrewVersionCache();
    caches.set(database, c);
  }
  return c;
}
