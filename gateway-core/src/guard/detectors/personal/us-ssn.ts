/**
 * US Social Security number detector. The dashed form AAA-GG-SSSS is reported on its own; a bare
 * 9-digit run, or one in space-separated groups, only with "SSN" or "social security" within 40
 * characters before it. Numbers the SSA never issues are skipped: area 000, 666 or 900-999,
 * group 00, serial 0000.
 */
import type { Detector, Finding } from '../../types';
import { hasContextWord, matchAtDigitRuns } from './text-context';

// Both are sticky and tried only where a run of digits starts (see matchAtDigitRuns).
const DASHED = /(?<![\w\-.\/])(\d{3})-(\d{2})-(\d{4})(?![\w]|[\-.\/]\d)/y;
const UNDASHED = /(?<![\w\-.\/])(\d{3}) ?(\d{2}) ?(\d{4})(?![\w]|[\-.\/]\d)/y;
const CONTEXT_WORDS = /\bssn|social security|\bss#|soc\.? ?sec\b/i;
const CONTEXT_BEFORE = 40;

export function isIssuableSsn(area: string, group: string, serial: string): boolean {
  if (area === '000' || area === '666' || area.startsWith('9')) return false;
  return group !== '00' && serial !== '0000';
}

export const usSsnDetector: Detector = {
  types: ['us_ssn'],
  category: 'personal',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];

    for (const match of matchAtDigitRuns(text, DASHED)) {
      if (!isIssuableSsn(match[1]!, match[2]!, match[3]!)) continue;
      findings.push({ type: 'us_ssn', category: 'personal', confidence: 0.8, start: match.index, end: match.index + match[0].length });
    }

    for (const match of matchAtDigitRuns(text, UNDASHED)) {
      const start = match.index;
      const end = start + match[0].length;
      if (!isIssuableSsn(match[1]!, match[2]!, match[3]!)) continue;
      if (!hasContextWord(text, start, end, CONTEXT_WORDS, CONTEXT_BEFORE, 0)) continue;
      findings.push({ type: 'us_ssn', category: 'personal', confidence: 0.75, start, end });
    }
    return findings;
  },
};
