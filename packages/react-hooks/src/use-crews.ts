import type { Crew, ListCrewsOptions, Page } from '@troupe/sdk';
import { type TroupeQueryResult, useTroupeQuery } from './use-troupe-query';

export type UseCrewsOptions = ListCrewsOptions;

/** One page of the tenant's crews; reloads when `first` or `after` changes. */
export function useCrews(options: UseCrewsOptions = {}): TroupeQueryResult<Page<Crew>> {
  const { first, after } = options;
  return useTroupeQuery(JSON.stringify(['crews', first, after]), (client, signal) =>
    client.crews.list({ first, after }, { signal }),
  );
}
