import type { TroupeClient } from '@troupe/sdk';
import { createContext, type ReactElement, type ReactNode, useContext } from 'react';

const TroupeContext = createContext<TroupeClient | null>(null);
TroupeContext.displayName = 'TroupeContext';

export interface TroupeProviderProps {
  /** A client from `createTroupeClient()`; create it once, outside render. */
  client: TroupeClient;
  children?: ReactNode;
}

/** Makes a Troupe client available to the hooks below it. */
export function TroupeProvider({ client, children }: TroupeProviderProps): ReactElement {
  return <TroupeContext.Provider value={client}>{children}</TroupeContext.Provider>;
}

/** The client of the nearest `<TroupeProvider>`; throws outside one. */
export function useTroupeClient(): TroupeClient {
  const client = useContext(TroupeContext);
  if (!client) {
    throw new Error(
      'useTroupeClient() must be called inside <TroupeProvider client={...}>: wrap your app (or this component) in a TroupeProvider',
    );
  }
  return client;
}
