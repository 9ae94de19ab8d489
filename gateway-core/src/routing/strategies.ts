/**
 * Load-balancing strategies: the order in which one alias's deployments are tried.
 *
 * Every strategy first ranks deployments into three groups and orders each group by its own rule:
 * available ones, then those that this request would take over their rpm or tpm limit, then
 * those cooling down. The last two groups stay in the list, so they are still tried when
 * everything before them fails. Ties inside a rule go to fewer calls in flight, then fewer
 * requests in the last minute, then config order.
 */
import type { Deployment } from '../providers/types';
import type { DeploymentHealth } from './health';
import type { DeploymentLimits, RoutingStrategy } from './types';

/** Request facts that a strategy reads. */
export interface OrderContext {
  /** Estimated prompt plus output tokens of this request, for the tpm check. */
  estimatedTokens: number;
  /** Uniform random number in [0, 1); default Math.random. */
  random?: () => number;
  /** Whether the client streams; latency-based then compares time to first token where measured. */
  stream?: boolean;
}

export interface OrderedCandidates {
  ordered: Deployment[];
  /** Readable explanation of the first choice, for the audit record and x-airlock-route-reason. */
  reason: string;
}

const STRATEGY_NAMES: Record<string, RoutingStrategy> = {
  'simple-shuffle': 'simple-shuffle',
  'least-busy': 'least-busy',
  'latency-based': 'latency-based',
  'latency-based-routing': 'latency-based',
  'usage-based': 'usage-based',
  'usage-based-routing': 'usage-based',
  'usage-based-routing-v2': 'usage-based',
  'cost-based': 'cost-based',
  'cost-based-routing': 'cost-based',
};

/** Read a routing_strategy value: LiteLLM's names or Airlock's short ones, case-insensitive. */
export function parseRoutingStrategy(name: string): RoutingStrategy {
  const strategy = STRATEGY_NAMES[name.trim().toLowerCase()];
  if (strategy === undefined) {
    throw new Error(`Unknown routing_strategy '${name}'. Accepted values: ${Object.keys(STRATEGY_NAMES).join(', ')}.`);
  }
  return strategy;
}

const AVAILABLE = 0;
const AT_LIMIT = 1;
const COOLING_DOWN = 2;

/**
 * Order the deployments of one alias for one request. The input array is not changed; the
 * result is one new array sorted in place.
 *
 * Rules inside a group:
 * - simple-shuffle: weighted random order, each next pick drawn in proportion to `weight`
 *   among the ones left (weight <= 0 only after all positive weights; all zero means uniform).
 * - least-busy: fewest calls in flight first.
 * - latency-based: lowest moving-average total latency first, or time to first token for a
 *   stream when the deployment has one measured. Deployments with no measurement yet come first
 *   so that they get measured. Failures record no latency because cooldowns handle them.
 * - usage-based: lowest utilization first. Utilization is the larger of (requests + 1) / rpm
 *   and (tokens + estimatedTokens) / tpm over the last 60 s. A deployment without limits has
 *   utilization 0.
 * - cost-based: lowest input + output price per 1M tokens first; free (local) deployments
 *   price at 0 and unknown prices sort last.
 */
export function orderCandidates(
  deployments: readonly Deployment[],
  strategy: RoutingStrategy,
  health: DeploymentHealth,
  limits: (deployment: Deployment) => DeploymentLimits,
  context: OrderContext,
): OrderedCandidates {
  const ordered = deployments.slice();
  const groupOf = (d: Deployment): number => {
    if (health.isCoolingDown(d.id)) return COOLING_DOWN;
    return wouldExceedLimit(d, health, limits(d), context.estimatedTokens) ? AT_LIMIT : AVAILABLE;
  };
  const scoreOf = (d: Deployment): number => strategyScore(d, strategy, health, limits, context);

  if (strategy === 'simple-shuffle') {
    ordered.sort((a, b) => groupOf(a) - groupOf(b));
    shuffleGroups(ordered, groupOf, limits, context.random ?? Math.random);
  } else {
    ordered.sort(
      (a, b) =>
        groupOf(a) - groupOf(b) ||
        scoreOf(a) - scoreOf(b) ||
        health.inFlight(a.id) - health.inFlight(b.id) ||
        health.requestsLastMinute(a.id) - health.requestsLastMinute(b.id),
    );
  }

  return { ordered, reason: describeChoice(ordered, strategy, health, limits, context, groupOf) };
}

/** Returns true when one more request of `estimatedTokens` would take the deployment over its rpm or tpm. */
export function wouldExceedLimit(d: Deployment, health: DeploymentHealth, limit: DeploymentLimits, estimatedTokens: number): boolean {
  if (limit.rpm !== null && health.requestsLastMinute(d.id) + 1 > limit.rpm) return true;
  return limit.tpm !== null && health.tokensLastMinute(d.id) + estimatedTokens > limit.tpm;
}

/** Computes the number a strategy sorts by, lowest first. */
function strategyScore(
  d: Deployment,
  strategy: RoutingStrategy,
  health: DeploymentHealth,
  limits: (deployment: Deployment) => DeploymentLimits,
  context: OrderContext,
): number {
  switch (strategy) {
    case 'simple-shuffle':
      return 0;
    case 'least-busy':
      return health.inFlight(d.id);
    case 'latency-based':
      return latencyOf(d, health, context) ?? -1;
    case 'usage-based':
      return utilization(d, health, limits(d), context.estimatedTokens);
    case 'cost-based':
      return pricePerMillion(d) ?? Number.POSITIVE_INFINITY;
  }
}

function latencyOf(d: Deployment, health: DeploymentHealth, context: OrderContext): number | null {
  const ttft = context.stream ? health.ttftMs(d.id) : null;
  return ttft ?? health.latencyMs(d.id);
}

function utilization(d: Deployment, health: DeploymentHealth, limit: DeploymentLimits, estimatedTokens: number): number {
  const requests = limit.rpm === null ? 0 : (health.requestsLastMinute(d.id) + 1) / limit.rpm;
  const tokens = limit.tpm === null ? 0 : (health.tokensLastMinute(d.id) + estimatedTokens) / limit.tpm;
  return Math.max(requests, tokens);
}

/** Input plus output price in USD per 1M tokens, 0 for a free model, null when unknown. */
function pricePerMillion(d: Deployment): number | null {
  const info = d.modelInfo;
  if (info.pricing === 'free') return 0;
  if (info.pricing === 'unknown' || info.prices.input === undefined || info.prices.output === undefined) return null;
  return info.prices.input + info.prices.output;
}

/** Shuffles each run of one group in place by weight, in O(n²) time, which is cheap for a few deployments. */
function shuffleGroups(
  ordered: Deployment[],
  groupOf: (d: Deployment) => number,
  limits: (deployment: Deployment) => DeploymentLimits,
  random: () => number,
): void {
  let start = 0;
  while (start < ordered.length) {
    const group = groupOf(ordered[start]!);
    let end = start + 1;
    while (end < ordered.length && groupOf(ordered[end]!) === group) end++;

    for (let position = start; position < end - 1; position++) {
      let total = 0;
      for (let i = position; i < end; i++) total += weightOf(ordered[i]!, limits);
      let pick = end - 1;
      if (total > 0) {
        let draw = random() * total;
        for (let i = position; i < end; i++) {
          const weight = weightOf(ordered[i]!, limits);
          if (weight === 0) continue;
          // Rounding can leave the draw at or above zero after the last positive weight, so that one stays the pick.
          pick = i;
          draw -= weight;
          if (draw < 0) break;
        }
      } else {
        pick = position + Math.min(end - position - 1, Math.floor(random() * (end - position)));
      }
      const chosen = ordered[pick]!;
      ordered[pick] = ordered[position]!;
      ordered[position] = chosen;
    }
    start = end;
  }
}

function weightOf(d: Deployment, limits: (deployment: Deployment) => DeploymentLimits): number {
  const weight = limits(d).weight;
  return Number.isFinite(weight) && weight > 0 ? weight : 0;
}

/** Builds a short sentence on why the first candidate leads, such as "latency-based: a#1 avg 420 ms vs 900 ms". */
function describeChoice(
  ordered: readonly Deployment[],
  strategy: RoutingStrategy,
  health: DeploymentHealth,
  limits: (deployment: Deployment) => DeploymentLimits,
  context: OrderContext,
  groupOf: (d: Deployment) => number,
): string {
  const first = ordered[0];
  if (first === undefined) return `${strategy}: no deployments`;
  const runnerUp = ordered[1];
  const firstGroup = groupOf(first);
  const runnerUpComparable = runnerUp !== undefined && groupOf(runnerUp) === firstGroup;

  let detail: string;
  if (ordered.length === 1) {
    detail = `${first.id} is the only deployment`;
  } else if (firstGroup === COOLING_DOWN) {
    detail = `all deployments cooling down, ${first.id} first`;
  } else if (firstGroup === AT_LIMIT) {
    detail = `all deployments at their rpm/tpm limit, ${first.id} first`;
  } else {
    const available = (d: Deployment): boolean => groupOf(d) === AVAILABLE;
    detail = `${first.id} ${describeMetric(first, strategy, health, limits, context, ordered, available)}`;
    if (runnerUpComparable && strategy !== 'simple-shuffle') {
      detail += ` vs ${describeMetric(runnerUp, strategy, health, limits, context, ordered, available, true)}`;
    }
  }

  let cooling = 0;
  let atLimit = 0;
  for (const d of ordered) {
    const group = groupOf(d);
    if (group === COOLING_DOWN) cooling++;
    else if (group === AT_LIMIT) atLimit++;
  }
  const skipped: string[] = [];
  if (firstGroup === AVAILABLE && atLimit > 0) skipped.push(`${atLimit} at rpm/tpm limit`);
  if (firstGroup !== COOLING_DOWN && cooling > 0) skipped.push(`${cooling} cooling down`);
  return `${strategy}: ${detail}${skipped.length > 0 ? ` (${skipped.join(', ')} tried last)` : ''}`;
}

function describeMetric(
  d: Deployment,
  strategy: RoutingStrategy,
  health: DeploymentHealth,
  limits: (deployment: Deployment) => DeploymentLimits,
  context: OrderContext,
  ordered: readonly Deployment[],
  available: (d: Deployment) => boolean,
  short = false,
): string {
  switch (strategy) {
    case 'simple-shuffle': {
      // The first pick was drawn among the available deployments only.
      let total = 0;
      for (const other of ordered) if (available(other)) total += weightOf(other, limits);
      return `drawn with weight ${formatNumber(weightOf(d, limits))} of ${formatNumber(total)}`;
    }
    case 'least-busy':
      return `${health.inFlight(d.id)} in flight`;
    case 'latency-based': {
      const latency = latencyOf(d, health, context);
      const label = context.stream && health.ttftMs(d.id) !== null ? 'ttft' : 'avg';
      return latency === null ? 'not measured yet' : `${short ? '' : `${label} `}${Math.round(latency)} ms`;
    }
    case 'usage-based': {
      const limit = limits(d);
      if (limit.rpm === null && limit.tpm === null) return 'no rpm/tpm limit';
      return `at ${Math.round(utilization(d, health, limit, context.estimatedTokens) * 100)}% of its rpm/tpm limit`;
    }
    case 'cost-based': {
      const price = pricePerMillion(d);
      if (d.modelInfo.pricing === 'free') return 'free (local)';
      return price === null ? 'price unknown' : `$${formatNumber(price)} per 1M tokens`;
    }
  }
}

function formatNumber(value: number): string {
  return String(Math.round(value * 100) / 100);
}
