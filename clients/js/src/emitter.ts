// A small typed event emitter (no dependency): on / off / once / emit, with listener
// errors kept from breaking the emitter's own bookkeeping.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

/** Maps each event name to its listener's arguments. */
export type EventMap = { [event: string]: unknown[] };

export class Emitter<E extends EventMap> {
  private listeners = new Map<keyof E, Listener[]>();

  /** Adds a listener; returns this, for chaining. */
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as Listener);
    this.listeners.set(event, list);
    return this;
  }

  /** Adds a listener that is removed after its first call. */
  once<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const wrapper = (...args: E[K]) => {
      this.off(event, wrapper);
      listener(...args);
    };
    (wrapper as { inner?: Listener }).inner = listener as Listener;
    return this.on(event, wrapper);
  }

  /** Removes a listener (one added with on or once). */
  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l === listener || (l as { inner?: Listener }).inner === listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(event);
    return this;
  }

  /** Removes every listener of one event, or of all events. */
  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /**
   * Calls each listener of the event in order. A listener that throws does not stop the
   * others; its error is reported asynchronously (as an uncaught error), the way a DOM
   * event listener's would be.
   */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const l of [...list]) {
      try {
        l(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
    return true;
  }
}
