/**
 * The semantic tier of the response cache: per entry, the hash of everything but the last user
 * message (only entries with an equal hash may match), the embedding of that message and its
 * lexical signature. The message text itself is not stored.
 */
export const sql = `
ALTER TABLE cache_entries ADD COLUMN semantic_key TEXT;
ALTER TABLE cache_entries ADD COLUMN embedding BLOB;
ALTER TABLE cache_entries ADD COLUMN signature TEXT;
`;
