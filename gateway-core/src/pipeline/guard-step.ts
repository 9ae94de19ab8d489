/**
 * The guard in the request path: the scan result is kept on the context (step 4), and each
 * attempt checks here whether its deployment may receive the request and in which form (step 6).
 */
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors';
import type { GuardOutcome, LocatedFinding, RequestScan } from '../guard/guard';
import type { RedactionMapping } from '../guard/redact';
import type { DestinationClass } from '../models/table';
import type { Deployment } from '../providers/types';
import type { Admission } from './attempts';
import type { RequestContext } from './context';
import type { PlanRequest, RoutePlan, Router } from './router';
import type { ChatSurface, ParsedChatRequest } from './surface';

/** Findings listed in an error message before the rest are only counted. */
const LISTED_FINDINGS = 10;

function describeFindings(findings: readonly LocatedFinding[]): string {
  const listed = findings
    .slice(0, LISTED_FINDINGS)
    .map((finding) => `${finding.type} at ${finding.path} (offset ${finding.offset}, length ${finding.length})`);
  const more = findings.length > LISTED_FINDINGS ? ` and ${findings.length - LISTED_FINDINGS} more` : '';
  return `${listed.join('; ')}${more}`;
}

/**
 * Returns the guard_blocked error that keeps `deployment` from receiving the request, or null
 * when its destination class may receive it. The message lists types and positions, never values.
 */
export function guardRefusal(scan: RequestScan, deployment: Deployment): GatewayError | null {
  const decision = scan.decision(deployment.destination);
  if (decision.admitted) return null;
  if (decision.blocking.length > 0) {
    return new GatewayError(
      'guard_blocked',
      `The guard blocked this request: it contains ${describeFindings(decision.blocking)}, which policy does not allow to reach ` +
        `${deployment.destination} deployment '${deployment.id}'. Remove these values from the request, or ask for a local model.`,
      { headers: { 'x-should-retry': 'false' } },
    );
  }
  return new GatewayError(
    'guard_blocked',
    `The guard blocked this request: it contains ${describeFindings(decision.routeLocal)}, which policy sends only to local models, ` +
      `and no local deployment is available for it. Add a local model to the request's fallbacks or set airlock.guard.local_model.`,
    { headers: { 'x-should-retry': 'false' } },
  );
}

/**
 * Narrows a plan to local deployments when a finding's cloud action is route_local: the plan's
 * own local deployments first, then those of its fallback aliases, then the guard's local_model
 * alias. Without any local deployment the plan stays as it is.
 */
export function routeLocalPlan(
  plan: RoutePlan,
  scan: RequestScan,
  router: Router,
  localModel: string | null,
  request: Omit<PlanRequest, 'requested'>,
): { plan: RoutePlan; changed: boolean } {
  const cloud = scan.decision('cloud');
  if (cloud.routeLocal.length === 0) return { plan, changed: false };
  if (plan.primary.every((deployment) => deployment.destination === 'local')) return { plan, changed: false };

  const locals: Deployment[] = [];
  const add = (deployments: readonly Deployment[]): void => {
    for (const deployment of deployments) {
      if (deployment.destination === 'local' && !locals.includes(deployment)) locals.push(deployment);
    }
  };
  add(plan.primary);
  const aliases = [...plan.fallbacks, ...(localModel === null ? [] : [localModel])];
  for (const alias of aliases) {
    try {
      add(router.candidates(alias, request).ordered);
    } catch (error) {
      // A fallback alias that names no model is a config mistake the attempt loop reports anyway.
      if (!(error instanceof GatewayError && error.kind === 'model_not_found')) throw error;
    }
  }
  const types = [...new Set(cloud.routeLocal.map((finding) => finding.type))].join(', ');
  const target = locals[0];
  if (target === undefined) {
    // Left as it is: the attempt loop refuses each cloud deployment and fails with guard_blocked.
    return { plan: { ...plan, reasons: [...plan.reasons, `guard: route_local (${types}) found no local deployment`] }, changed: false };
  }
  return {
    plan: {
      ...plan,
      primary: locals,
      reasons: [...plan.reasons, `guard: route_local (${types}) to ${target.id}`],
      fallbacks: [],
      contextWindowFallbacks: [],
      contentPolicyFallbacks: [],
    },
    changed: true,
  };
}

export interface AttemptRequest {
  request: ParsedChatRequest;
  /** Placeholder → original, for restoring the response; empty when nothing was redacted. */
  mapping: RedactionMapping;
}

const NO_MAPPING: RedactionMapping = new Map();

/**
 * Returns the request a deployment receives: the client's request, or for a destination class
 * that redacts, the same request parsed from the redacted copy of the body (kept per class).
 */
export function attemptRequestFor(
  surface: ChatSurface,
  request: ParsedChatRequest,
  scan: RequestScan | null,
  cache: Map<DestinationClass, AttemptRequest>,
  destination: DestinationClass,
): AttemptRequest {
  if (scan === null) return { request, mapping: NO_MAPPING };
  const cached = cache.get(destination);
  if (cached) return cached;
  const redacted = scan.redactedBody(destination);
  const result = redacted === null ? { request, mapping: NO_MAPPING } : { request: surface.parse(redacted.body), mapping: redacted.mapping };
  cache.set(destination, result);
  return result;
}

/** Returns where the request ended up, for guard events and headers; null when nothing was scanned or found. */
export function guardOutcome(ctx: RequestContext): GuardOutcome | null {
  if (ctx.guardScan === null) return null;
  const destinations = new Set(ctx.guardDestinations);
  // The route_local decision was made for the cloud deployments the plan had before narrowing.
  if (ctx.guardRoutedLocal) destinations.add('cloud');
  if (destinations.size === 0) destinations.add(ctx.deployment?.destination ?? 'cloud');
  return { destinations: [...destinations].sort(), blocked: ctx.errorKind === 'guard_blocked' };
}

/**
 * x-airlock-guard (the strongest action taken: block, route_local, redact or allow) and
 * x-airlock-guard-findings (count per type); sent only when the guard found something.
 */
export function setGuardHeaders(res: ServerResponse, ctx: RequestContext): void {
  const outcome = guardOutcome(ctx);
  if (outcome === null || ctx.guardScan === null) return;
  res.setHeader('x-airlock-guard', ctx.guardScan.strongestAction(outcome));
  res.setHeader('x-airlock-guard-findings', ctx.guardScan.typeCounts());
}

/**
 * Returns the admission check of a request: the guard decides first, so that a budget never
 * reserves for a deployment the guard refuses, then `next` (the budget step).
 */
export function guardFirst(ctx: RequestContext, scan: RequestScan | null, next: Admission): Admission {
  return (deployment) => {
    if (scan !== null) {
      ctx.guardDestinations.add(deployment.destination);
      const refusal = guardRefusal(scan, deployment);
      if (refusal !== null) return refusal;
    }
    return next(deployment);
  };
}
