/**
 * AWS credentials: access key ids (`AKIA…` long-term, `ASIA…` temporary) and secret access keys.
 *
 * A secret access key is 40 characters of base64 with no prefix, so it is reported only next to an
 * AWS context: a name such as `aws_secret_access_key` / `SecretAccessKey` before it, or an access key
 * id shortly before it (the CSV the console downloads, or `aws configure` output).
 * Span choice: the key itself.
 */
import type { Detector, Finding } from '../../types.js';
import { asciiLower, secretWordStarts } from './secret-words.js';
import { shannonEntropy, secretFinding } from './util.js';

const accessKeyId = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;
/** A named secret key, tried (sticky) only just before and at each `secret` in the text. */
const namedSecret =
  /(?:aws_?secret_?(?:access_?)?key|secret_?access_?key|aws_?secret|secret-access-key)["']?\s*(?:[:=]|=>|:=)?\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/iy;
/** Every name above has its `secret` at most this many characters after its start (`aws_secret`). */
const MAX_SECRET_OFFSET = 4;
const bareSecret = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;

function isPlausibleSecretKey(value: string): boolean {
  // Real keys mix upper case, lower case and digits; hex digests and words do not.
  return /[a-z]/.test(value) && /[A-Z]/.test(value) && /[0-9]/.test(value) && shannonEntropy(value) >= 4;
}

export const awsDetector: Detector = {
  types: ['aws_access_key_id', 'aws_secret_access_key'],
  category: 'secret',
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    const keyIdEnds: number[] = [];
    if (text.indexOf('AKIA') >= 0 || text.indexOf('ASIA') >= 0) {
      accessKeyId.lastIndex = 0;
      for (let match = accessKeyId.exec(text); match; match = accessKeyId.exec(text)) {
        if (match[0].endsWith('EXAMPLE')) continue;
        findings.push(secretFinding('aws_access_key_id', 0.95, match.index, match.index + 20));
        keyIdEnds.push(match.index + 20);
      }
    }

    const reported = new Set<number>();
    // Named secrets do not overlap: the next one may start only after the end of the last match.
    let resumeAt = 0;
    for (const wordStart of secretWordStarts(text)) {
      if (asciiLower(text.charCodeAt(wordStart)) !== 115 /* s */) continue;
      for (let nameStart = Math.max(resumeAt, wordStart - MAX_SECRET_OFFSET); nameStart <= wordStart; nameStart++) {
        namedSecret.lastIndex = nameStart;
        const match = namedSecret.exec(text);
        if (!match) continue;
        resumeAt = nameStart + match[0].length;
        const value = match[1] ?? '';
        if (!value.endsWith('EXAMPLEKEY')) {
          const start = resumeAt - value.length;
          findings.push(secretFinding('aws_secret_access_key', 0.9, start, start + 40));
          reported.add(start);
        }
        break;
      }
    }

    // An unnamed 40-character key within 200 characters after an access key id.
    for (const keyIdEnd of keyIdEnds) {
      const window = text.slice(keyIdEnd, keyIdEnd + 200);
      bareSecret.lastIndex = 0;
      for (let match = bareSecret.exec(window); match; match = bareSecret.exec(window)) {
        const start = keyIdEnd + match.index;
        if (reported.has(start) || !isPlausibleSecretKey(match[0])) continue;
        findings.push(secretFinding('aws_secret_access_key', 0.75, start, start + 40));
        reported.add(start);
      }
    }
    return findings;
  },
};
