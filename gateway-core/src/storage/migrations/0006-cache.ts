/**
 * The response cache: one row per stored answer, keyed by the exact cache key. The response is
 * stored whole, in the inbound format it was answered in; replaying it as a stream is done from
 * this body. Rows expire at expires_at and are evicted least recently used first when the total
 * size passes the configured cap.
 */
export const sql = `
CREATE TABLE cache_entries (
  key TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  alias TEXT NOT NULL,
  format TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  -- UTF-8 bytes of response plus usage, which the size cap counts.
  size_bytes INTEGER NOT NULL,
  -- JSON response body as the client received it.
  response TEXT NOT NULL,
  -- JSON usage record of the original call, and its cost: what a hit saves.
  usage TEXT,
  cost_usd REAL,
  -- Milliseconds the original call took: the time a hit saves.
  latency_ms REAL NOT NULL,
  hits INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX cache_entries_expires_at ON cache_entries (expires_at);
CREATE INDEX cache_entries_last_used_at ON cache_entries (last_used_at);
CREATE INDEX cache_entries_namespace ON cache_entries (namespace);
CREATE INDEX cache_entries_alias ON cache_entries (alias);

-- hit-exact, miss or skip: what the cache did for the request; null when the cache is off.
ALTER TABLE audit_log ADD COLUMN cache_status TEXT;
`;
