import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const guardKeyFileName = 'guard-hash.key';

/** Length of a generated key in bytes. */
const KEY_BYTES = 32;

/**
 * Reads the key for the guard's value hashes from the data folder, creating it with random bytes
 * and mode 0600 on first start. The key sits beside the database, not in it, so a copy of the
 * database alone cannot be used to test guessed values against the stored hashes.
 */
export function loadGuardHashKey(dataDir: string): Buffer {
  const path = join(dataDir, guardKeyFileName);
  try {
    return decodeKey(readFileSync(path, 'utf8'), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(KEY_BYTES);
  try {
    // 'wx' fails when another process created the file first; that process's key is then used.
    writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return decodeKey(readFileSync(path, 'utf8'), path);
  }
}

function decodeKey(text: string, path: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-f]{32,}$/i.test(hex) || hex.length % 2 !== 0) {
    throw new Error(`${path} does not contain a hex key of at least 16 bytes; delete it to have a new key generated`);
  }
  return Buffer.from(hex, 'hex');
}
