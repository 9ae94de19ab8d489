/**
 * The guard as the request path uses it: one scan per request (step 4), then a decision per
 * destination class for each attempt (step 6). The scan keeps the findings of the body as the
 * client sent it. A redacted copy is made per destination class only when needed, so the
 * client's body object is never changed.
 */
import type { DestinationClass } from '../models/table';
import type { WireFormat } from '../providers/types';
import { createOrganizationDetector } from './detectors/organization';
import { createPhoneDetector, personalDetectors } from './detectors/personal/index';
import { secretDetectors } from './detectors/secrets/index';
import { createGuardEvent, type GuardAction, type GuardEvent } from './event';
import { collectEmbeddingParts, collectParts, type TextPart } from './parts';
import { placeholderType, redactParts, type RedactionMapping } from './redact';
import { createScanner, type Scanner } from './scanner';
import { actionFor, type GuardSettings } from './settings';
import type { Detector, Finding } from './types';

/** Returns every built-in detector type, for validating the names that settings use. */
export function builtInDetectorTypes(): Set<string> {
  return new Set([...secretDetectors, ...personalDetectors].flatMap((detector) => detector.types));
}

/** A finding with where it sits, as error messages and events show it (never the value). */
export interface LocatedFinding {
  type: string;
  category: Finding['category'];
  path: string;
  messageIndex: number | null;
  offset: number;
  length: number;
}

/** The guard's decision for one destination class. */
export interface GuardDecision {
  destination: DestinationClass;
  /** Findings whose action here is block: a deployment of this class must not receive the request. */
  blocking: LocatedFinding[];
  /** Findings that must go to a local model (only for cloud). */
  routeLocal: LocatedFinding[];
  /** Findings replaced with placeholders before the request is sent. */
  redacting: LocatedFinding[];
  /** Whether a deployment of this class may receive the request, redacted when `redacting` is non-empty. */
  admitted: boolean;
}

export interface RedactedBody {
  body: Record<string, unknown>;
  mapping: RedactionMapping;
}

const ACTION_RANK: Record<GuardAction, number> = { allow: 0, redact: 1, route_local: 2, block: 3 };

/** The findings of one request body, with decisions and redacted copies made on first use. */
export class RequestScan {
  private readonly decisions = new Map<DestinationClass, GuardDecision>();
  private readonly redacted = new Map<DestinationClass, RedactedBody>();
  readonly count: number;

  constructor(
    private readonly collect: (body: Record<string, unknown>) => TextPart[],
    private readonly body: Record<string, unknown>,
    private readonly parts: readonly TextPart[],
    private readonly findingsPerPart: readonly (readonly Finding[])[],
    private readonly settings: GuardSettings,
    private readonly hashKey: Buffer,
  ) {
    this.count = findingsPerPart.reduce((sum, findings) => sum + findings.length, 0);
  }

  /** Formats the number of findings of each type, sorted by type, such as `email=2, postgres_uri=1`. */
  typeCounts(): string {
    const counts = new Map<string, number>();
    for (const findings of this.findingsPerPart) for (const finding of findings) counts.set(finding.type, (counts.get(finding.type) ?? 0) + 1);
    return [...counts].sort(([left], [right]) => left.localeCompare(right)).map(([type, count]) => `${type}=${count}`).join(', ');
  }

  decision(destination: DestinationClass): GuardDecision {
    const cached = this.decisions.get(destination);
    if (cached) return cached;
    const decision: GuardDecision = { destination, blocking: [], routeLocal: [], redacting: [], admitted: true };
    this.forEachFinding((part, finding) => {
      const action = this.actionAt(part, finding, destination);
      if (action === 'allow') return;
      const located = locate(part, finding);
      if (action === 'block') decision.blocking.push(located);
      else if (action === 'route_local') decision.routeLocal.push(located);
      else decision.redacting.push(located);
    });
    decision.admitted = decision.blocking.length === 0 && decision.routeLocal.length === 0;
    this.decisions.set(destination, decision);
    return decision;
  }

  /**
   * Returns a copy of the body in which placeholders replace the findings that `destination`
   * redacts, with the mapping to restore them. Returns null when nothing is redacted there.
   */
  redactedBody(destination: DestinationClass): RedactedBody | null {
    if (this.decision(destination).redacting.length === 0) return null;
    const cached = this.redacted.get(destination);
    if (cached) return cached;

    const copy = structuredClone(this.body);
    const copyParts = this.collect(copy);
    if (copyParts.length !== this.parts.length) {
      throw new Error(`the copied request body has ${copyParts.length} text parts where the original has ${this.parts.length}`);
    }
    const selected = this.findingsPerPart.map((findings, index) =>
      findings.filter((finding) => this.actionAt(this.parts[index]!, finding, destination) === 'redact'),
    );
    const mapping = redactParts(copyParts, selected);
    const result = { body: copy, mapping };
    this.redacted.set(destination, result);
    return result;
  }

  /**
   * Builds one event per finding and destination class the request was checked for, with the
   * action taken there. A request the guard refused everywhere records block for the findings
   * that caused it.
   */
  events(outcome: GuardOutcome): Array<{ destination: DestinationClass; event: GuardEvent }> {
    const events: Array<{ destination: DestinationClass; event: GuardEvent }> = [];
    for (const destination of outcome.destinations) {
      this.forEachFinding((part, finding) => {
        const action = this.outcomeAction(part, finding, destination, outcome.blocked);
        events.push({ destination, event: createGuardEvent(part, finding, action, this.hashKey) });
      });
    }
    return events;
  }

  /** Returns the strongest action taken on any finding at any destination: block, route_local, redact or allow. */
  strongestAction(outcome: GuardOutcome): GuardAction {
    let strongest: GuardAction = 'allow';
    for (const destination of outcome.destinations) {
      this.forEachFinding((part, finding) => {
        const action = this.outcomeAction(part, finding, destination, outcome.blocked);
        if (ACTION_RANK[action] > ACTION_RANK[strongest]) strongest = action;
      });
    }
    return strongest;
  }

  /**
   * Returns the action for a finding in one part. Anthropic checks the signature of a thinking
   * block, so a redacted thinking block would be rejected upstream; redact becomes block there.
   */
  private actionAt(part: TextPart, finding: Finding, destination: DestinationClass): GuardAction {
    const action = actionFor(this.settings, finding, destination);
    return action === 'redact' && part.location.path.endsWith('.thinking') ? 'block' : action;
  }

  private outcomeAction(part: TextPart, finding: Finding, destination: DestinationClass, blocked: boolean): GuardAction {
    const here = this.actionAt(part, finding, destination);
    return blocked && here === 'route_local' ? 'block' : here;
  }

  private forEachFinding(visit: (part: TextPart, finding: Finding) => void): void {
    this.findingsPerPart.forEach((findings, index) => {
      for (const finding of findings) visit(this.parts[index]!, finding);
    });
  }
}

/** The outcome of a request for the guard: the destination classes it was checked for, and whether the guard refused it everywhere. */
export interface GuardOutcome {
  destinations: DestinationClass[];
  blocked: boolean;
}

function locate(part: TextPart, finding: Finding): LocatedFinding {
  return {
    type: finding.type,
    category: finding.category,
    path: part.location.path,
    messageIndex: part.location.messageIndex,
    offset: finding.start,
    length: finding.end - finding.start,
  };
}

/** The configured detectors with the scanner over them. */
export class Guard {
  private readonly scanner: Scanner;

  constructor(
    readonly settings: GuardSettings,
    private readonly hashKey: Buffer,
  ) {
    const personal = settings.phoneRegions === null
      ? personalDetectors
      : personalDetectors.map((detector) => (detector.types.includes('phone_number') ? createPhoneDetector({ defaultRegions: settings.phoneRegions! }) : detector));
    const detectors: Detector[] = [...secretDetectors, ...personal];
    if (settings.rules.patterns.length + settings.rules.words.length > 0) detectors.push(createOrganizationDetector(settings.rules));
    // A detector with some types disabled drops those findings before overlap resolution, so a
    // disabled finding never hides an enabled one it overlaps.
    const disabled = settings.disabledTypes;
    const active = detectors
      .filter((detector) => detector.types.some((type) => !disabled.has(type)))
      .map((detector): Detector => {
        if (!detector.types.some((type) => disabled.has(type))) return detector;
        return { types: detector.types, category: detector.category, scan: (text) => detector.scan(text).filter((finding) => !disabled.has(finding.type)) };
      });
    this.scanner = createScanner({ detectors: active });
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /**
   * Returns `text` with each finding replaced by its type in brackets, such as `[POSTGRES_URI]`,
   * for texts the gateway stores, like an upstream error message that quotes the prompt. The text
   * is unchanged when the guard is off.
   */
  scrub(text: string): string {
    if (!this.settings.enabled || text.length === 0) return text;
    const findings = this.scanner.scan(text);
    if (findings.length === 0) return text;
    const pieces: string[] = [];
    let cursor = 0;
    for (const finding of findings) {
      pieces.push(text.slice(cursor, finding.start), `[${placeholderType(finding.type)}]`);
      cursor = finding.end;
    }
    pieces.push(text.slice(cursor));
    return pieces.join('');
  }

  /** Returns whether the guard finds anything in `text`; false when the guard is off. */
  findsAny(text: string): boolean {
    return this.settings.enabled && text.length > 0 && this.scanner.scan(text).length > 0;
  }

  /** Scans every text part of a chat request body; null when the guard is off or nothing was found. */
  scanRequest(format: WireFormat, body: Record<string, unknown>): RequestScan | null {
    return this.scanWith((value) => collectParts(format, value), body);
  }

  /** Scans the inputs of an embeddings request body. */
  scanEmbeddingRequest(body: Record<string, unknown>): RequestScan | null {
    return this.scanWith(collectEmbeddingParts, body);
  }

  private scanWith(collect: (body: Record<string, unknown>) => TextPart[], body: Record<string, unknown>): RequestScan | null {
    if (!this.settings.enabled) return null;
    const parts = collect(body);
    // NOTE: each part is scanned alone, so a value split across two parts (a connection string
    // whose password starts the next content part) is not found.
    const findingsPerPart = parts.map((part) => this.scanner.scan(part.text));
    if (findingsPerPart.every((findings) => findings.length === 0)) return null;
    return new RequestScan(collect, body, parts, findingsPerPart, this.settings, this.hashKey);
  }
}
