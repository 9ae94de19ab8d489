/** The personal-data detectors, in the order the scanner runs them. */
import type { Detector } from '../../types';
import { emailDetector } from './email';
import { ibanDetector } from './iban';
import { paymentCardDetector } from './payment-card';
import { phoneDetector } from './phone';
import { usSsnDetector } from './us-ssn';
import { vnCitizenIdDetector } from './vn-citizen-id';

export { createPhoneDetector, DEFAULT_PHONE_REGIONS, type PhoneDetectorOptions } from './phone';
export { emailDetector, ibanDetector, paymentCardDetector, phoneDetector, usSsnDetector, vnCitizenIdDetector };

export const personalDetectors: Detector[] = [
  emailDetector,
  phoneDetector,
  paymentCardDetector,
  ibanDetector,
  vnCitizenIdDetector,
  usSsnDetector,
];
