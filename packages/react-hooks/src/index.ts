export type { TroupeProviderProps } from './troupe-provider';
export { TroupeProvider, useTroupeClient } from './troupe-provider';
export type { UseCrewsOptions } from './use-crews';
export { useCrews } from './use-crews';
export type { TroupeQueryResult } from './use-troupe-query';
