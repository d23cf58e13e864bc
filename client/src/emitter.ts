/** A small typed event emitter: a listener that throws does not stop the others or the client. */

// biome-ignore lint/suspicious/noExplicitAny: listener signatures vary per event; callers see the typed map
type Listener = (...args: any[]) => void;

export class Emitter<E extends { [K in keyof E]: Listener }> {
  private readonly listeners = new Map<keyof E, Set<E[keyof E]>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once. */
  once<K extends keyof E>(event: K, listener: E[K]): () => void {
    const wrapper = ((...args: Parameters<E[K]>) => {
      off();
      listener(...args);
    }) as E[K];
    const off = this.on(event, wrapper);
    return off;
  }

  off<K extends keyof E>(event: K, listener: E[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        // Surface the listener's bug without breaking delivery to the others.
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }
}
