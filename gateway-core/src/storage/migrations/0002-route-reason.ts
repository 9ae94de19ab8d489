/** Why each request went where it did, and the alias a fallback stood in for. */
export const sql = `
ALTER TABLE audit_log ADD COLUMN route_reason TEXT;
ALTER TABLE audit_log ADD COLUMN fallback_from TEXT;
`;
