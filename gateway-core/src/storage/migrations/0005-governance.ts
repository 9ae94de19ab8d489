/**
 * Cost governance: the organisation, its teams and users, budgets, the spend ledger and budget
 * events. Money is in USD, times are milliseconds since the Unix epoch.
 */
export const sql = `
-- One row: the organisation every team belongs to.
CREATE TABLE organization (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

INSERT INTO organization (id, name, updated_at) VALUES (1, 'Organization', 0);

-- source: 'config' rows are rewritten from the config file at each start, 'api' rows are kept.
CREATE TABLE teams (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  rpm_limit INTEGER CHECK (rpm_limit > 0),
  tpm_limit INTEGER CHECK (tpm_limit > 0),
  source TEXT NOT NULL CHECK (source IN ('config', 'api')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT,
  team_id TEXT NOT NULL REFERENCES teams (id),
  rpm_limit INTEGER CHECK (rpm_limit > 0),
  tpm_limit INTEGER CHECK (tpm_limit > 0),
  source TEXT NOT NULL CHECK (source IN ('config', 'api')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX users_team ON users (team_id);

-- LiteLLM's virtual-key fields; NULL means no limit.
ALTER TABLE api_keys ADD COLUMN rpm_limit INTEGER;
ALTER TABLE api_keys ADD COLUMN tpm_limit INTEGER;

-- scope_id is 'org' for the organisation scope. time_zone NULL means the configured default
-- zone. A fixed window starts at window_start and repeats every window_days exact days.
CREATE TABLE budgets (
  id TEXT PRIMARY KEY,
  name TEXT,
  scope_kind TEXT NOT NULL CHECK (scope_kind IN ('org', 'team', 'user', 'key', 'alias')),
  scope_id TEXT NOT NULL,
  period_kind TEXT NOT NULL CHECK (period_kind IN ('daily', 'weekly', 'monthly', 'fixed')),
  time_zone TEXT,
  window_start INTEGER,
  window_days REAL,
  limit_usd REAL NOT NULL CHECK (limit_usd >= 0),
  action TEXT NOT NULL CHECK (action IN ('block', 'downgrade')),
  downgrade_alias TEXT,
  -- JSON array of percentages of limit_usd, ascending.
  thresholds TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('config', 'api')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK ((action = 'downgrade') = (downgrade_alias IS NOT NULL)),
  CHECK ((period_kind = 'fixed') = (window_start IS NOT NULL AND window_days IS NOT NULL))
) STRICT;

CREATE INDEX budgets_scope ON budgets (scope_kind, scope_id);

-- One row per settled request and per cache hit. Reservations of requests in progress live in
-- the gateway's memory, so a request costs one write. A row counts toward its scopes in the
-- periods containing created_at, the instant it was admitted. cost_usd NULL means the price is
-- unknown. Rows are never updated, so other connections' rows can be read by seq.
CREATE TABLE ledger_entries (
  seq INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  settled_at INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  user_id TEXT,
  team_id TEXT,
  alias TEXT NOT NULL,
  -- The model name the client sent, which savings compare against.
  requested_model TEXT NOT NULL,
  deployment_id TEXT,
  model TEXT,
  -- The worst-case cost that admission reserved; 0 for a cache hit.
  reserved_usd REAL NOT NULL CHECK (reserved_usd >= 0),
  cost_usd REAL CHECK (cost_usd >= 0),
  estimated INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
  would_have_cost_usd REAL,
  cache_hit INTEGER NOT NULL DEFAULT 0 CHECK (cache_hit IN (0, 1)),
  -- The budget whose downgrade action routed the request to this alias.
  downgraded_by TEXT
) STRICT;

-- The only index, so that a settlement usually changes two pages (table and index). Spend sums
-- and reports read a time range and filter by scope.
CREATE INDEX ledger_created_at ON ledger_entries (created_at);

-- Threshold crossings and the first block or downgrade of each budget period. budget_id is no
-- foreign key, because events stay after their budget is deleted.
CREATE TABLE budget_events (
  seq INTEGER PRIMARY KEY,
  budget_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('threshold', 'blocked', 'downgraded')),
  threshold_pct REAL,
  scope_kind TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  period_end INTEGER NOT NULL,
  limit_usd REAL NOT NULL,
  spent_usd REAL NOT NULL,
  request_id TEXT,
  created_at INTEGER NOT NULL,
  CHECK ((kind = 'threshold') = (threshold_pct IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX budget_events_once ON budget_events (budget_id, period_start, kind, ifnull(threshold_pct, -1));
CREATE INDEX budget_events_created_at ON budget_events (created_at);
`;
