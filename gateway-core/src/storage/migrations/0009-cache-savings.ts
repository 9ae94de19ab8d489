/**
 * What each cache hit saved, kept in the audit log so the totals per model and day survive the
 * eviction of the entry that served it: the stored response's cost in USD, and the milliseconds
 * between the original response time and the hit's.
 */
export const sql = `
ALTER TABLE audit_log ADD COLUMN cache_saved_usd REAL;
ALTER TABLE audit_log ADD COLUMN cache_saved_ms REAL;
`;
