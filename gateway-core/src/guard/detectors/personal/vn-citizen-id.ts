/**
 * Vietnamese identity numbers, which carry no checksum, so each one needs a context word.
 *
 * - `vn_citizen_id`: the 12-digit personal identification number printed on the CCCD (citizen
 *   identity card). Digits 1-3 are the code of the province where the birth was registered,
 *   digit 4 encodes century and gender, digits 5-6 are the last two digits of the birth year
 *   (province codes from appendix 1 of Circular 07/2016/TT-BCA of the Ministry of Public Security).
 * - `vn_cmnd`: the 9-digit number of the older identity card (CMND). Its first digits were an
 *   issuing-area code under a scheme this detector does not check, so its confidence is lower.
 *
 * Both are reported only with a context word (CCCD, CMND, căn cước, chứng minh, số định danh,
 * citizen ID and similar, with or without diacritics) within 40 characters before the number
 * or 24 characters after it, as in "012345678901 là số CCCD".
 */
import type { Detector, Finding } from '../../types';
import { hasContextWord, matchAtDigitRuns } from './text-context';

/** The 63 province codes of the 2016 scheme, 001 (Hà Nội) to 096 (Cà Mau). */
export const VN_PROVINCE_CODES: ReadonlySet<string> = new Set([
  '001', '002', '004', '006', '008', '010', '011', '012', '014', '015', '017', '019', '020', '022',
  '024', '025', '026', '027', '030', '031', '033', '034', '035', '036', '037', '038', '040', '042',
  '044', '045', '046', '048', '049', '051', '052', '054', '056', '058', '060', '062', '064', '066',
  '067', '068', '070', '072', '074', '075', '077', '079', '080', '082', '083', '084', '086', '087',
  '089', '091', '092', '093', '094', '095', '096',
]);

const CONTEXT_BEFORE = 40;
const CONTEXT_AFTER = 24;
const CONTEXT_WORDS =
  /cccd|cmnd|cmt\b|căn cước|can cuoc|định danh|dinh danh|chứng minh|chung minh|giấy tờ tùy thân|citizen id|citizen identity|national id|identity card|id card/i;

/**
 * Candidate: 12 or 9 digits, bare or in groups of three separated by one space or dot, not part
 * of a longer number, decimal, date or path. Sticky: it is tried only where a run of digits
 * starts (see matchAtDigitRuns).
 */
const CANDIDATE = /(?<![\w.\-\/])(?:\d{12}|\d{9}|\d{3}([ .])\d{3}\1\d{3}(?:\1\d{3})?)(?!\w|[.\-\/]\d)/y;

/**
 * Returns the birth year that digits 4-6 of a citizen id encode. Digit 4 is 0/1 for 1900-1999
 * (male/female), 2/3 for 2000-2099, and so on up to 8/9 for 2300-2399.
 */
export function citizenIdBirthYear(digits: string): number {
  const centuryDigit = digits.charCodeAt(3) - 48;
  return 1900 + 100 * Math.floor(centuryDigit / 2) + Number(digits.slice(4, 6));
}

export const vnCitizenIdDetector: Detector = {
  types: ['vn_citizen_id', 'vn_cmnd'],
  category: 'personal',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    const currentYear = new Date().getUTCFullYear();
    for (const match of matchAtDigitRuns(text, CANDIDATE)) {
      const start = match.index;
      const end = start + match[0].length;
      const digits = match[0].replace(/[ .]/g, '');

      if (digits.length === 12) {
        if (!VN_PROVINCE_CODES.has(digits.slice(0, 3))) continue;
        if (!hasContextWord(text, start, end, CONTEXT_WORDS, CONTEXT_BEFORE, CONTEXT_AFTER)) continue;
        // Every century digit is valid in the scheme, but a birth year after this year means the
        // number cannot have been issued yet, so such a number is reported with less confidence.
        const confidence = citizenIdBirthYear(digits) <= currentYear ? 0.85 : 0.5;
        findings.push({ type: 'vn_citizen_id', category: 'personal', confidence, start, end });
      } else {
        if (!hasContextWord(text, start, end, CONTEXT_WORDS, CONTEXT_BEFORE, CONTEXT_AFTER)) continue;
        findings.push({ type: 'vn_cmnd', category: 'personal', confidence: 0.6, start, end });
      }
    }
    return findings;
  },
};
