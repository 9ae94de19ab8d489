/**
 * Guard events: one row per finding, with the action taken. The value itself is never stored,
 * only its keyed hash, so repeats of one value can be counted. The audit log gets the strongest
 * action of the request.
 */
export const sql = `
CREATE TABLE guard_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  type TEXT NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('secret', 'personal', 'organization')),
  action TEXT NOT NULL CHECK (action IN ('block', 'redact', 'route_local', 'allow')),
  -- The destination class the action was decided for; a request checked for both classes has
  -- one event per finding and class.
  destination TEXT NOT NULL CHECK (destination IN ('local', 'cloud')),
  path TEXT NOT NULL,
  message_index INTEGER,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL,
  value_hash TEXT NOT NULL
) STRICT;

CREATE INDEX guard_events_created_at ON guard_events (created_at);
CREATE INDEX guard_events_request ON guard_events (request_id);
CREATE INDEX guard_events_value_hash ON guard_events (value_hash);

ALTER TABLE audit_log ADD COLUMN guard_action TEXT;
ALTER TABLE audit_log ADD COLUMN guard_findings INTEGER NOT NULL DEFAULT 0;
`;
