import { useEffect, useRef } from 'react';

/**
 * Calls `callback` when the browser comes back online (the window's `online` event), while
 * `enabled`. Nothing happens where there is no such event (server rendering, Node).
 */
export function useWhenOnline(enabled: boolean, callback: () => void): void {
  const callbackRef = useRef(callback);
  callbackRef.current = callback;
  useEffect(() => {
    const target = globalThis as Partial<EventTarget>;
    if (!enabled || typeof target.addEventListener !== 'function') return;
    const onOnline = () => callbackRef.current();
    target.addEventListener('online', onOnline);
    return () => target.removeEventListener?.('online', onOnline);
  }, [enabled]);
}
