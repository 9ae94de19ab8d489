/**
 * Phone number detector. A cheap regex finds digit runs that could be phone numbers, and shape
 * rules drop dates, times, IP addresses and version numbers. libphonenumber-js validates the rest
 * with its "max" metadata, which checks each region's number ranges, not just the length.
 *
 * Accepted forms:
 * - international: a leading '+', validated without a default region (`+84 90 123 45 67`);
 * - national, for each default region (VN and US unless configured): in a region whose trunk
 *   prefix is 0, a number that starts with it, bare or grouped (`0901234567`, `090 123 4567`,
 *   `(028) 3822 1234`); in other regions, a number written in groups (`(212) 555-1234`,
 *   `212.555.1234`).
 * A bare digit run without '+' or a leading 0 (`2147483647`) is never reported, because in code
 * and logs such runs are ids, counters and timestamps far more often than phone numbers.
 */
import { getExampleNumber, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import mobileExamples from 'libphonenumber-js/mobile/examples';
import type { Detector, Finding } from '../../types';
import { digitsOnly } from './text-context';

export interface PhoneDetectorOptions {
  /** ISO 3166-1 alpha-2 regions whose national formats are accepted, tried in order. */
  defaultRegions?: CountryCode[];
}

export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = ['VN', 'US'];

/**
 * Candidate: an optional '+' or '(', a digit, then digits and single-line separators, ending in
 * a digit. It may not continue a word, a decimal, a path or a hyphenated id. The length bound
 * keeps the work per start position constant.
 */
const CANDIDATE = /(?<![\w+.\/])(?<!\w-)(?:\+ ?|\(\+?)?\d[\d \u00a0\-.()]{5,24}\d(?!\w)/g;
const GROUP = /\d+/g;

const ISO_DATE = /(?:19|20)\d\d[-.\/](?:0?[1-9]|1[0-2])[-.\/](?:0?[1-9]|[12]\d|3[01])/;
const DAY_FIRST_DATE = /(?:0?[1-9]|[12]\d|3[01])[-.\/](?:0?[1-9]|1[0-2])[-.\/](?:19|20)\d\d/;
const DOTTED_QUAD = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const HAS_SEPARATOR = /\d[ \u00a0\-.()]+\d|^\(/;
const DOUBLE_SEPARATOR = /[ \u00a0.\-]{2}/;
const NON_DOT_SEPARATOR = /[ \u00a0\-()]/;
const ONE_DIGIT_DOTTED_GROUP = /(?:^|\.)\d\.|\.\d$/;
/** A group of one digit; a written number has at most one, such as "+1" or the 1 of "+33 1 42". */
const ONE_DIGIT_GROUP = /(?<!\d)\d(?!\d)/g;

const MIN_DIGITS = 7;
const MAX_DIGITS = 15; // E.164 maximum
const MIN_VALIDATION_BUDGET = 2000;
/** One library validation allowed per this many UTF-16 units of text, on top of the minimum. */
const TEXT_UNITS_PER_VALIDATION = 256;
const UNVALIDATED_CONFIDENCE = 0.3;

/** Whether the text after a candidate continues it as a decimal, version, time or longer id. */
function continuesNumber(text: string, end: number): boolean {
  const next = text.charCodeAt(end);
  const after = text.charCodeAt(end + 1);
  const afterIsDigit = after >= 48 && after <= 57;
  return (next === 46 || next === 45 || next === 58 || next === 47) && afterIsDigit; // . - : /
}

function looksLikeDateOrAddress(value: string): boolean {
  return ISO_DATE.test(value) || DAY_FIRST_DATE.test(value) || DOTTED_QUAD.test(value);
}

/**
 * Whether the separators are laid out as in a written phone number: no two in a row, and dots
 * only on their own and between groups of two or more digits. Version lists such as
 * "1.4.15     5868160" and "0.99.0 (2026-05" fail this.
 */
function hasPhoneLayout(value: string): boolean {
  if (DOUBLE_SEPARATOR.test(value)) return false;
  if (!value.includes('.')) return true;
  return !NON_DOT_SEPARATOR.test(value) && !ONE_DIGIT_DOTTED_GROUP.test(value);
}

/** Whether the region writes national numbers with a leading 0, judged by its example mobile number. */
function writesLeadingZero(region: CountryCode): boolean {
  return getExampleNumber(region, mobileExamples)?.formatNational().startsWith('0') ?? false;
}

export function createPhoneDetector(options: PhoneDetectorOptions = {}): Detector {
  const regions = options.defaultRegions ?? [...DEFAULT_PHONE_REGIONS];
  const zeroTrunkRegions = new Set(regions.filter(writesLeadingZero));

  /**
   * Returns the regions to validate `value` in, [] for an international number, or undefined
   * when its shape alone rules it out. This needs no library call.
   */
  function regionsToTry(value: string): CountryCode[] | undefined {
    const digits = digitsOnly(value);
    if (digits.length < MIN_DIGITS || digits.length > MAX_DIGITS) return undefined;
    if (!hasPhoneLayout(value)) return undefined;
    if ((value.match(ONE_DIGIT_GROUP) ?? []).length > 1) return undefined;
    if (value.startsWith('+') || value.startsWith('(+')) return [];

    // Where the trunk prefix is 0 (VN, GB, FR, ...), national numbers are written with it, so
    // "912-34-5678" is not a Vietnamese number. Elsewhere (US: trunk prefix 1, usually left
    // out) only a grouped number is accepted, because a bare run is more often an id.
    const grouped = HAS_SEPARATOR.test(value);
    const regionsForShape = regions.filter((region) => (zeroTrunkRegions.has(region) ? digits.startsWith('0') : grouped));
    return regionsForShape.length > 0 ? regionsForShape : undefined;
  }

  /** Returns the confidence if libphonenumber-js accepts `value` in one of `regionsForShape`, else 0. */
  function validate(value: string, regionsForShape: CountryCode[]): number {
    if (regionsForShape.length === 0) {
      const parsed = parsePhoneNumberFromString(value.replace(/^\(\+/, '+').replace(/\)/, ''), { extract: false });
      return parsed?.isValid() ? 0.9 : 0;
    }
    for (const region of regionsForShape) {
      const parsed = parsePhoneNumberFromString(value, { defaultCountry: region, extract: false });
      if (parsed?.isValid()) return 0.8;
    }
    return 0;
  }

  return {
    types: ['phone_number'],
    category: 'personal',
    scan(text: string): Finding[] {
      const findings: Finding[] = [];
      // A library validation costs tens of microseconds, so text made of phone-shaped runs could
      // make a scan slow. Past this budget, shape-checked candidates are reported unvalidated
      // with a low confidence, and runs are no longer split.
      // NOTE: so a large dump of other long numbers (ids, CCCD numbers) can yield phone_number
      // findings with confidence 0.3 once the budget is spent.
      let validationBudget = MIN_VALIDATION_BUDGET + Math.floor(text.length / TEXT_UNITS_PER_VALIDATION);
      function confidenceOf(value: string): number {
        const regionsForShape = regionsToTry(value);
        if (regionsForShape === undefined) return 0;
        if (validationBudget <= 0) return UNVALIDATED_CONFIDENCE;
        validationBudget--;
        return validate(value, regionsForShape);
      }

      CANDIDATE.lastIndex = 0;
      let match: RegExpExecArray | null;

      while ((match = CANDIDATE.exec(text)) !== null) {
        const candidate = match[0];
        const candidateStart = match.index;
        // A date or an address anywhere in the run makes its digits unusable: "0.99.0 (2026-05-27)"
        // would otherwise leave a valid-looking prefix.
        if (looksLikeDateOrAddress(candidate)) continue;

        // Digit groups are where a shorter number may start and end, as in
        // "090 123 4567 091 234 5678", which contains two numbers next to each other.
        const groupStarts: number[] = [];
        const groupEnds: number[] = [];
        GROUP.lastIndex = 0;
        let group: RegExpExecArray | null;
        while ((group = GROUP.exec(candidate)) !== null) {
          groupStarts.push(group.index);
          groupEnds.push(group.index + group[0].length);
        }
        // When the text goes on with ".5", "-7", ":30" or "/7", the last group belongs to that other
        // number, as in "0941234567 (24/7)", so no phone number may end with it.
        if (continuesNumber(text, candidateStart + candidate.length)) {
          groupStarts.pop();
          groupEnds.pop();
        }
        const groupCount = groupEnds.length;
        if (groupCount === 0) continue;

        if (validationBudget <= 0) {
          const confidence = confidenceOf(candidate.slice(0, groupEnds[groupCount - 1]));
          if (confidence > 0) findings.push({ type: 'phone_number', category: 'personal', confidence, start: candidateStart, end: candidateStart + groupEnds[groupCount - 1]! });
          continue;
        }

        // Try the longest number from each first group; after a find, go on after it.
        let first = 0;
        while (first < groupCount) {
          // A '+' or '(' just before the first group belongs to the number.
          let from = groupStarts[first]!;
          if (from > 0 && candidate[from - 1] === '(') from--;
          if (from > 0 && candidate[from - 1] === '+') from--;
          if (from > 0 && candidate[from - 1] === '(') from--;

          // Extend over the groups while the number could still be one: at most 15 digits and
          // one single-digit group. Only ends with at least 7 digits are validated.
          let digitCount = 0;
          let oneDigitGroups = 0;
          let lastFitting = first - 1;
          let firstLongEnough = groupCount;
          for (let index = first; index < groupCount; index++) {
            const length = groupEnds[index]! - groupStarts[index]!;
            digitCount += length;
            if (length === 1) oneDigitGroups++;
            if (digitCount > MAX_DIGITS || oneDigitGroups > 1) break;
            if (digitCount >= MIN_DIGITS && firstLongEnough === groupCount) firstLongEnough = index;
            lastFitting = index;
          }

          let foundAt = -1;
          for (let last = lastFitting; last >= firstLongEnough; last--) {
            const confidence = confidenceOf(candidate.slice(from, groupEnds[last]));
            if (confidence > 0) {
              findings.push({ type: 'phone_number', category: 'personal', confidence, start: candidateStart + from, end: candidateStart + groupEnds[last]! });
              foundAt = last;
              break;
            }
          }
          first = foundAt >= 0 ? foundAt + 1 : first + 1;
        }
      }
      return findings;
    },
  };
}

export const phoneDetector: Detector = createPhoneDetector();
