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
