import type { TroupeError } from '../troupe-error';

/** One GraphQL subscription operation. */
export interface SubscriptionRequest {
  query: string;
  operationName: string;
  variables: Record<string, unknown>;
}

/** Where a transport reports what happens to one subscription. */
export interface SubscriptionSink {
  /** The connection is up and the subscription was sent. */
  established(): void;
  /** One execution result (`{ data, errors }`). */
  next(payload: unknown): void;
  /** The subscription ended abnormally; `UNAVAILABLE` means the connection was lost or never made. */
  error(error: TroupeError): void;
  /** The server ended the subscription. */
  complete(): void;
}

/** Starts one subscription; the returned function ends it (and is a no-op once it ended). */
export type SubscriptionTransport = (request: SubscriptionRequest, sink: SubscriptionSink) => () => void;
