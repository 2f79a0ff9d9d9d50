/** Browsers: the device says it has no network (`navigator.onLine`); elsewhere never. */
export function deviceOffline(): boolean {
  return (globalThis as { navigator?: { onLine?: unknown } }).navigator?.onLine === false;
}

/** Where `online` events are heard (a window or worker); undefined elsewhere (Node). */
export function onlineEvents(): Pick<EventTarget, 'addEventListener' | 'removeEventListener'> | undefined {
  const target = globalThis as Partial<EventTarget>;
  return typeof target.addEventListener === 'function' && typeof target.removeEventListener === 'function'
    ? (target as EventTarget)
    : undefined;
}
