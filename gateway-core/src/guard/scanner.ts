/**
 * The guard's scanner: runs every detector over one text and resolves overlapping findings, so
 * that each character of the text belongs to at most one finding.
 *
 * Overlap rule. When two findings share at least one character, the one that ranks higher wins
 * and the other is dropped whole:
 *   1. category: secret over organization over personal (a password inside a connection string
 *      is reported as the connection string, not as the e-mail address its `user@host` resembles);
 *   2. then the longer span;
 *   3. then the higher confidence;
 *   4. then the earlier start, then the detector listed first.
 * Findings that only touch (one ends where the other starts) do not overlap.
 */
import type { Detector, Finding, FindingCategory } from './types';

export interface ScannerOptions {
  /** Run in this order; the order only decides ties that rules 1 to 4 leave open. */
  detectors: readonly Detector[];
}

export interface Scanner {
  /**
   * Returns the findings in `text` after overlap resolution, sorted by start. An exception from a
   * detector propagates, so that a caller fails closed rather than passing an unscanned text.
   */
  scan(text: string): Finding[];
}

const CATEGORY_RANK: Record<FindingCategory, number> = { secret: 3, organization: 2, personal: 1 };

interface Candidate {
  finding: Finding;
  detectorIndex: number;
}

/** Positive when `left` outranks `right` under the overlap rule. */
function compareRank(left: Candidate, right: Candidate): number {
  const a = left.finding;
  const b = right.finding;
  return (
    CATEGORY_RANK[a.category] - CATEGORY_RANK[b.category] ||
    (a.end - a.start) - (b.end - b.start) ||
    a.confidence - b.confidence ||
    b.start - a.start ||
    right.detectorIndex - left.detectorIndex
  );
}

function byStart(left: Finding, right: Finding): number {
  return left.start - right.start || left.end - right.end;
}

/**
 * Drops findings whose span is empty, reversed, outside the text or not made of integers. Such a
 * finding is a detector bug; redacting with it would corrupt the text.
 */
function isValidSpan(finding: Finding, textLength: number): boolean {
  return (
    Number.isInteger(finding.start) &&
    Number.isInteger(finding.end) &&
    finding.start >= 0 &&
    finding.end <= textLength &&
    finding.start < finding.end
  );
}

/**
 * Index of the first accepted interval whose end is after `start`, in `accepted` sorted by start.
 * Accepted intervals never overlap, so their ends are sorted too.
 */
function firstEndingAfter(accepted: Finding[], start: number): number {
  let low = 0;
  let high = accepted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (accepted[middle]!.end <= start) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Applies the overlap rule to findings in any order and returns the winners sorted by start. */
function resolveOverlaps(candidates: Candidate[]): Finding[] {
  const sorted = candidates.map((candidate) => candidate.finding).sort(byStart);

  // Fast path: most texts have no overlapping findings at all.
  let overlapping = false;
  for (let index = 1; index < sorted.length; index++) {
    if (sorted[index]!.start < sorted[index - 1]!.end) {
      overlapping = true;
      break;
    }
  }
  if (!overlapping) return sorted;

  // Greedy by rank: a finding is kept when it overlaps none of the findings kept before it.
  const byRank = [...candidates].sort((left, right) => compareRank(right, left));
  const accepted: Finding[] = [];
  for (const { finding } of byRank) {
    const index = firstEndingAfter(accepted, finding.start);
    const next = accepted[index];
    if (next !== undefined && next.start < finding.end) continue;
    accepted.splice(index, 0, finding);
  }
  return accepted;
}

/** Creates a scanner over a fixed list of detectors. */
export function createScanner(options: ScannerOptions): Scanner {
  const detectors = [...options.detectors];

  return {
    scan(text: string): Finding[] {
      if (text.length === 0) return [];
      const candidates: Candidate[] = [];
      for (let detectorIndex = 0; detectorIndex < detectors.length; detectorIndex++) {
        for (const finding of detectors[detectorIndex]!.scan(text)) {
          if (isValidSpan(finding, text.length)) candidates.push({ finding, detectorIndex });
        }
      }
      return resolveOverlaps(candidates);
    },
  };
}
