/**
 * Payment card number (PAN) detector. A candidate is 13 to 19 digits, bare or in the usual groups
 * separated by single spaces or single dashes (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4). It is reported
 * only when its prefix and length match a current issuer range and its Luhn checksum holds, so
 * that ids and timestamps that happen to pass Luhn (one in ten does) are not reported for lack
 * of an issuer prefix.
 */
import type { Detector, Finding } from '../../types';
import { matchAtDigitRuns } from './text-context';

/**
 * Candidate: a bare run of 13 to 19 digits, or a 4-digit group followed by up to four groups
 * after single separators. The two forms are separate alternatives so that a bare run cannot be
 * split into groups in many ways while the regex backtracks. Sticky: it is tried only where a
 * run of digits starts (see matchAtDigitRuns).
 */
const CANDIDATE = /(?<![\w.\-+])(?:\d{13,19}|\d{4}(?:[ \-]\d{1,7}){1,4})(?![\w]|[.\-]\d)/y;

/** Group lengths, joined with '-', that card numbers are printed in. */
const GROUPINGS = new Set(['4-4-4-4', '4-4-4-4-3', '4-4-4-4-2', '4-4-4-4-1', '4-6-5', '4-6-4', '4-4-4-1', '4-4-4-3', '4-4-5', '4-4-4-2', '4-4-4']);

interface IssuerRange {
  issuer: string;
  /** Inclusive prefix range; both ends have the same number of digits. */
  low: number;
  high: number;
  lengths: readonly number[];
}

/**
 * Issuer identification number ranges as published by the card networks (Visa, Mastercard
 * including the 2-series, American Express, Discover, JCB, UnionPay, Diners Club, Maestro).
 */
const ISSUER_RANGES: readonly IssuerRange[] = [
  { issuer: 'visa', low: 4, high: 4, lengths: [13, 16, 19] },
  { issuer: 'mastercard', low: 51, high: 55, lengths: [16] },
  { issuer: 'mastercard', low: 2221, high: 2720, lengths: [16] },
  { issuer: 'amex', low: 34, high: 34, lengths: [15] },
  { issuer: 'amex', low: 37, high: 37, lengths: [15] },
  { issuer: 'discover', low: 6011, high: 6011, lengths: [16, 17, 18, 19] },
  { issuer: 'discover', low: 644, high: 649, lengths: [16, 17, 18, 19] },
  { issuer: 'discover', low: 65, high: 65, lengths: [16, 17, 18, 19] },
  { issuer: 'jcb', low: 3528, high: 3589, lengths: [16, 17, 18, 19] },
  { issuer: 'unionpay', low: 62, high: 62, lengths: [16, 17, 18, 19] },
  { issuer: 'diners', low: 300, high: 305, lengths: [14, 16, 17, 18, 19] },
  { issuer: 'diners', low: 36, high: 36, lengths: [14, 15, 16, 17, 18, 19] },
  { issuer: 'diners', low: 38, high: 39, lengths: [16, 17, 18, 19] },
  { issuer: 'maestro', low: 5018, high: 5018, lengths: [16, 17, 18, 19] },
  { issuer: 'maestro', low: 5020, high: 5020, lengths: [16, 17, 18, 19] },
  { issuer: 'maestro', low: 5038, high: 5038, lengths: [16, 17, 18, 19] },
  { issuer: 'maestro', low: 5893, high: 5893, lengths: [16, 17, 18, 19] },
  { issuer: 'maestro', low: 6304, high: 6304, lengths: [16, 17, 18, 19] },
  { issuer: 'maestro', low: 6759, high: 6759, lengths: [16, 17, 18, 19] },
  { issuer: 'maestro', low: 6761, high: 6763, lengths: [16, 17, 18, 19] },
];

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index--) {
    let value = digits.charCodeAt(index) - 48;
    if (double) {
      value *= 2;
      if (value > 9) value -= 9;
    }
    sum += value;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Returns the issuer whose prefix range and lengths match `digits`, or undefined. */
export function matchIssuer(digits: string): string | undefined {
  for (const range of ISSUER_RANGES) {
    const width = String(range.low).length;
    const prefix = Number(digits.slice(0, width));
    if (prefix >= range.low && prefix <= range.high && range.lengths.includes(digits.length)) return range.issuer;
  }
  return undefined;
}

function hasCardGrouping(candidate: string): boolean {
  const separators = candidate.match(/[ \-]/g);
  if (!separators) return true;
  if (separators.some((separator) => separator !== separators[0])) return false;
  const lengths = candidate.split(separators[0]!).map((group) => group.length).join('-');
  return GROUPINGS.has(lengths);
}

export const paymentCardDetector: Detector = {
  types: ['payment_card'],
  category: 'personal',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    for (const match of matchAtDigitRuns(text, CANDIDATE)) {
      const candidate = match[0];
      const digits = candidate.replace(/[ \-]/g, '');
      if (digits.length < 13 || digits.length > 19) continue;
      if (!hasCardGrouping(candidate)) continue;
      if (!matchIssuer(digits) || !luhnValid(digits)) continue;
      findings.push({ type: 'payment_card', category: 'personal', confidence: 0.9, start: match.index, end: match.index + candidate.length });
    }
    return findings;
  },
};
