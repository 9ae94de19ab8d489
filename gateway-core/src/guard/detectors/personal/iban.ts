/**
 * IBAN detector: a country code, two check digits and a BBAN whose length matches the country,
 * written without spaces or in groups of four, reported only when the ISO 13616 mod-97 check
 * gives 1.
 */
import type { Detector, Finding } from '../../types';

/**
 * Total IBAN length per country.
 * NOTE: typed from the SWIFT IBAN registry from memory and not checked against its current
 * release, so a recently added country may be missing.
 */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

/**
 * Candidate: two letters, two digits, then either a compact alphanumeric run or groups of four
 * after single spaces with a shorter last group. Not inside a longer word or base64 run.
 */
const CANDIDATE = /(?<![A-Za-z0-9+\/])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9])/g;

/** Computes the ISO 7064 mod-97 remainder of the rearranged IBAN, one character at a time. */
export function ibanRemainder(iban: string): number {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let index = 0; index < rearranged.length; index++) {
    const code = rearranged.charCodeAt(index);
    if (code >= 48 && code <= 57) {
      remainder = (remainder * 10 + (code - 48)) % 97;
    } else {
      remainder = (remainder * 100 + (code - 55)) % 97; // A=10 … Z=35
    }
  }
  return remainder;
}

function countDigits(value: string): number {
  let count = 0;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code >= 48 && code <= 57) count++;
  }
  return count;
}

export const ibanDetector: Detector = {
  types: ['iban'],
  category: 'personal',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    CANDIDATE.lastIndex = 0;
    let match: RegExpExecArray | null;

    while ((match = CANDIDATE.exec(text)) !== null) {
      const compact = match[0].replace(/ /g, '');
      const expectedLength = IBAN_LENGTHS[compact.slice(0, 2)];
      if (expectedLength === undefined || compact.length !== expectedLength) continue;
      // Real BBANs are mostly digits (bank codes of letters are at most 4 to 8 characters), while
      // upper-case identifiers that pass mod-97 by chance are mostly letters.
      const bban = compact.slice(4);
      if (countDigits(bban) * 2 < bban.length) continue;
      if (ibanRemainder(compact) !== 1) continue;
      findings.push({ type: 'iban', category: 'personal', confidence: 0.95, start: match.index, end: match.index + match[0].length });
    }
    return findings;
  },
};
