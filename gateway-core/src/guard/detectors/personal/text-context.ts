/** Helpers shared by the personal-data detectors: character classes and context-word windows. */

/** Whether the UTF-16 code unit at `index` is an ASCII letter, digit or underscore. */
export function isAsciiWordChar(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 95 // _
  );
}

export function isDigitAt(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return code >= 48 && code <= 57;
}

/** Removes every character that is not an ASCII digit. */
export function digitsOnly(value: string): string {
  return value.replace(/\D+/g, '');
}

/**
 * Tests `pattern` against the text in a window around [start, end): `before` characters before
 * the value and `after` characters after it. The window is NFC-normalised so that Vietnamese
 * words typed with combining marks still match a pattern written in precomposed form.
 */
export function hasContextWord(
  text: string,
  start: number,
  end: number,
  pattern: RegExp,
  before: number,
  after: number,
): boolean {
  const head = text.slice(Math.max(0, start - before), start).normalize('NFC');
  if (pattern.test(head)) return true;
  if (after <= 0) return false;
  const tail = text.slice(end, Math.min(text.length, end + after)).normalize('NFC');
  return pattern.test(tail);
}
