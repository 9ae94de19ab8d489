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

/** Maximal runs of at least three ASCII digits. */
const DIGIT_RUN = /\d{3,}/g;

// Like the secret detectors' word search, this keeps the last text scanned in memory until
// another one is scanned.
let lastText: string | undefined;
let lastRunStarts: readonly number[] = [];

/**
 * Returns where each run of at least three ASCII digits in `text` starts, in ascending order.
 * Three detectors need these places and the scanner runs them over the same text in turn, so the
 * result is kept for the last text. Measured with Node 20 on the texts of bench/guard.ts, V8
 * searches for /\d{3,}/ two to five times faster than for /\d{4,}/ or for any of the detectors'
 * own candidate patterns, which start with a lookbehind.
 */
export function digitRunStarts(text: string): readonly number[] {
  // Equal strings have equal results, so a copy of the last text may reuse them too.
  if (text === lastText) return lastRunStarts;
  const starts: number[] = [];
  DIGIT_RUN.lastIndex = 0;
  for (let run = DIGIT_RUN.exec(text); run !== null; run = DIGIT_RUN.exec(text)) starts.push(run.index);
  lastText = text;
  lastRunStarts = starts;
  return starts;
}

/**
 * Returns the matches of the sticky pattern `candidate` in `text`, in order and without overlap:
 * the matches that the same pattern with the `g` flag instead of `y` finds. `candidate` is tried
 * only where a run of at least three digits starts, which costs much less than a search with the
 * whole pattern, which checks its lookbehind at every position of the text.
 *
 * So `candidate` must match only at the start of such a run: it has to begin with at least three
 * digits, after a lookbehind that rejects a digit before them.
 */
export function matchAtDigitRuns(text: string, candidate: RegExp): RegExpExecArray[] {
  const matches: RegExpExecArray[] = [];
  let resumeAt = 0;
  for (const runStart of digitRunStarts(text)) {
    if (runStart < resumeAt) continue;
    candidate.lastIndex = runStart;
    const match = candidate.exec(text);
    if (match === null) continue;
    matches.push(match);
    resumeAt = runStart + match[0].length;
  }
  return matches;
}
