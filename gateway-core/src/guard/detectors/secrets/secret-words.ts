/**
 * The places in a text of the words that names of secrets are made of. Three detectors look for
 * named secrets: generic assignments, key=value connection strings and AWS secret keys. The
 * scanner runs every detector over the same text in turn, so the words are searched for once and
 * the result is kept for the last text.
 * NOTE: the cache keeps a reference to the last text scanned, so that text stays in memory until
 * another one is scanned.
 */

/**
 * Case-insensitive, as the names are: pass (password, passwd, passphrase), pwd, secret, token,
 * credential and key. Measured with Node 20 on the texts of bench/guard.ts, V8 searches for
 * these six plain words in about 70% of the time it takes for the spelled-out names
 * (`api[_-]?key`, `password`), which the callers check at each place found.
 */
const SECRET_WORD = /pass|pwd|secret|token|credential|key/gi;

let lastText: string | undefined;
let lastStarts: readonly number[] = [];

/**
 * Returns the start of every occurrence of the words above in `text`, in ascending order. Words
 * that overlap, such as `pass` and `secret` in `passecret`, are all listed.
 */
export function secretWordStarts(text: string): readonly number[] {
  // Equal strings have equal results, so a copy of the last text may reuse them too.
  if (text === lastText) return lastStarts;
  const starts: number[] = [];
  SECRET_WORD.lastIndex = 0;
  for (let match = SECRET_WORD.exec(text); match !== null; match = SECRET_WORD.exec(text)) {
    starts.push(match.index);
    SECRET_WORD.lastIndex = match.index + 1;
  }
  lastText = text;
  lastStarts = starts;
  return starts;
}

/** Lower-cases an ASCII letter's UTF-16 code and leaves every other code as it is. */
export function asciiLower(code: number): number {
  return code >= 65 && code <= 90 ? code + 32 : code;
}
