/** The user and team a key belongs to, which routing rules and budgets match on. */
export const sql = `
ALTER TABLE api_keys ADD COLUMN user_id TEXT;
ALTER TABLE api_keys ADD COLUMN team_id TEXT;
`;
