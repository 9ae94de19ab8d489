/** The guard's secret detectors, one per family of credential formats. */
import type { Detector } from '../../types.js';
import { awsDetector } from './aws.js';
import { connectionKeyValueDetector } from './connection-kv.js';
import { connectionUriDetector } from './connection-uri.js';
import { genericAssignmentDetector } from './generic-assignment.js';
import { jwtDetector, privateKeyDetector } from './pem-jwt.js';
import { prefixedTokenDetector } from './prefixed-tokens.js';

export const secretDetectors: Detector[] = [
  connectionUriDetector,
  connectionKeyValueDetector,
  awsDetector,
  prefixedTokenDetector,
  privateKeyDetector,
  jwtDetector,
  genericAssignmentDetector,
];
