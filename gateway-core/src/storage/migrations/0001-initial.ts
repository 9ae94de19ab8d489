/** Keys and the audit log. Times are milliseconds since the Unix epoch. */
export const sql = `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  -- SHA-256 of the whole key, hex; the key itself is never stored.
  hash TEXT NOT NULL UNIQUE,
  -- The first characters of the key, shown in lists so that people can tell keys apart.
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;

CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  key_id TEXT,
  client TEXT,
  inbound_api TEXT NOT NULL,
  alias TEXT,
  provider TEXT,
  provider_model TEXT,
  deployment_id TEXT,
  stream INTEGER NOT NULL,
  http_status INTEGER NOT NULL,
  error_kind TEXT,
  error_message TEXT,
  -- JSON array of attempts: deployment, provider, status, error kind, latency.
  attempts TEXT NOT NULL,
  -- JSON usage record, and the provider's usage JSON as it arrived.
  usage TEXT,
  raw_usage TEXT,
  cost_usd REAL,
  pricing TEXT,
  latency_ms REAL NOT NULL,
  ttft_ms REAL,
  -- JSON array of flags such as "price_unknown" or "client_disconnected".
  flags TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX audit_log_key_created_at ON audit_log (key_id, created_at);
CREATE INDEX audit_log_alias_created_at ON audit_log (alias, created_at);
`;
