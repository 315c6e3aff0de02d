/**
 * Adds `listener` to the set kept for `key` (made on first use) and returns its removal, which
 * also drops the set once empty: per-id listeners (long-polls, streams) leave nothing behind.
 */
export function listen<K, L>(map: Map<K, Set<L>>, key: K, listener: L): () => void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0 && map.get(key) === set) map.delete(key);
  };
}

/**
 * The one waiting mechanism behind every long-poll: registers a listener for `id` in `waiters`
 * first, then runs `check` (the current state), so a publish between the two cannot be missed.
 * Resolves with `check`'s answer when it gives one, else with the first message `accept` takes,
 * else `onTimeout()` when `ms` run out or the wait is ended through `pending` (shutdown).
 */
export function waitFor<M, T>(o: {
  /** Listeners by id; a listener may take more than the message (the wait uses only the message). */
  waiters: Map<string, Set<(m: M, ...more: never[]) => void>>;
  id: string;
  ms: number;
  pending: Set<() => void>;
  accept: (m: M) => T | null;
  check: () => Promise<{ now: T | null } | null>;
  onTimeout?: (() => T | null | Promise<T | null>) | undefined;
}): Promise<T | null> {
  return new Promise((resolve, reject) => {
    const done = (value: T | null | Promise<T | null>, err?: unknown) => {
      clearTimeout(timer);
      stop();
      o.pending.delete(onShutdown);
      if (err) reject(err);
      else resolve(value);
    };
    const onMessage = (m: M) => {
      const value = o.accept(m);
      if (value !== null) done(value);
    };
    const onShutdown = () => done(o.onTimeout ? o.onTimeout() : null);
    const timer = setTimeout(onShutdown, o.ms);
    const stop = listen(o.waiters, o.id, onMessage);
    o.pending.add(onShutdown);
    o.check().then(
      (answer) => answer && done(answer.now),
      (err) => done(null, err),
    );
  });
}
