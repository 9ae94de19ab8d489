/**
 * The guard's detector interface. A detector finds one family of sensitive values in a piece of
 * text; the scanner runs every detector over every text part a provider would see.
 */

/** What a finding is, which decides its default action: secrets block, personal data redacts. */
export type FindingCategory = 'secret' | 'personal' | 'organization';

export interface Finding {
  /** Detector type name, such as "postgres_uri", "aws_access_key_id", "email", "vn_citizen_id". */
  type: string;
  category: FindingCategory;
  /** 0 to 1: how sure the detector is (a checksum match is high, a bare pattern lower). */
  confidence: number;
  /** UTF-16 offsets into the scanned text, end exclusive: the value to redact, not its label. */
  start: number;
  end: number;
}

export interface Detector {
  /** The type names this detector can report. */
  readonly types: readonly string[];
  readonly category: FindingCategory;
  /** Every finding in `text`, in any order; overlapping findings are resolved by the scanner. */
  scan(text: string): Finding[];
}
