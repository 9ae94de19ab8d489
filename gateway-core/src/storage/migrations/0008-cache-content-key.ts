/**
 * The content key of a semantic cache entry: a hash of its semantic key and its folded content
 * words. Under the default lexical check only entries with an equal content key can match, so
 * a lookup reads them through this index instead of scanning every vector.
 */
export const sql = `
ALTER TABLE cache_entries ADD COLUMN content_key TEXT;
CREATE INDEX cache_entries_content_key ON cache_entries (content_key);
`;
