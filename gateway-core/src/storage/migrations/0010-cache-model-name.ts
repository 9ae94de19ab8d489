/**
 * The configured model_name an entry was stored under, such as `claude-*` for an answer the
 * wildcard entry gave as `claude-opus-4-1`, so clearing by a wildcard name removes exactly its
 * answers and not those of another name with the same prefix.
 */
export const sql = `
ALTER TABLE cache_entries ADD COLUMN model_name TEXT;
`;
