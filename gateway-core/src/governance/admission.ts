/**
 * Budget admission for one attempt: which budgets apply to the request, whether its worst-case
 * cost fits each of them, and the reservation that keeps that cost counted until settlement.
 *
 * The check and the reservation run without an await between them, so concurrent requests at
 * the edge of a budget cannot all pass it, because each check counts the reservations of the
 * others. The settled total can still exceed a limit by the amount that requests in progress
 * settle above their reservations, which only happens when a worst-case estimate was too low.
 *
 * A request whose worst-case cost is $0 (a local model) is never blocked by a USD budget, and
 * is admitted even when the ledger cannot be read.
 */
import type { Logger } from '../logger';
import { budgetInForce, budgetPeriodAt, type Period } from './periods';
import { percentOfLimit, type ActiveBudget, type BudgetStore } from './budgets';
import { BudgetExceededError, type BudgetBreach } from './errors';
import type { BudgetEvent, BudgetEventInput, BudgetEventLog } from './events';
import type { CacheHitInput, Reservation, SettlementInput, SpendLedger } from './ledger';
import { scopesOf, type GovernancePrincipal, type ScopeRef } from './scopes';

/**
 * Spend over a limit by less than this (a millionth of a cent) still fits, so that the rounding
 * of floating-point sums does not block a request that fits exactly.
 */
const TOLERANCE_USD = 1e-8;
/**
 * The same for thresholds: spend of 0.7 + 0.2 + 0.1 on a limit of 1 sums to 0.9999999999999999
 * and still reaches 100 %.
 */
const TOLERANCE_PERCENT = 1e-9;

export interface AdmissionRequest {
  requestId: string;
  /** From KeyDirectory.resolve, so the team is the user's current team. */
  principal: GovernancePrincipal;
  /** The model_name of this attempt's deployment. */
  alias: string;
  /** The model name the client sent, the baseline for savings. */
  requestedModel: string;
  deployment: { id: string; model: string };
  /** worstCaseCost(...).usd at this deployment's prices: 0 when free, null when the price is unknown. */
  worstCaseUsd: number | null;
  /**
   * The budget whose downgrade action chose `alias`, on the admission that follows a downgrade.
   * A downgrade budget that still does not fit then blocks, so downgrades cannot loop.
   */
  downgradedBy?: string | null;
}

/** The state of one budget as admission saw it, for the request's audit record. */
export interface BudgetCheck {
  budgetId: string;
  scope: ScopeRef;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  periodStart: number;
  resetAt: number;
}

export type AdmissionDecision =
  | { kind: 'admitted'; reservation: Reservation; checks: BudgetCheck[] }
  /** Plan the request again for `alias`, then admit it with `downgradedBy` set. */
  | { kind: 'downgrade'; alias: string; budgetId: string; breach: BudgetBreach; checks: BudgetCheck[] }
  | { kind: 'blocked'; error: BudgetExceededError; checks: BudgetCheck[] };

export interface Settlement {
  costUsd: number | null;
  /** False when the ledger row could not be written yet; it is kept in memory and written later. */
  persisted: boolean;
  /** Settled minus reserved cost: positive when the worst-case estimate was too low. */
  differenceUsd: number;
  /** Threshold events this settlement raised. */
  events: BudgetEvent[];
}

export interface BudgetAdmissionOptions {
  ledger: SpendLedger;
  budgets: BudgetStore;
  events: BudgetEventLog;
  /** Clock in milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Receives each new budget event after it is stored. */
  onEvent?: (event: BudgetEvent) => void;
  logger?: Logger;
}

export class BudgetAdmission {
  private readonly ledger: SpendLedger;
  private readonly budgets: BudgetStore;
  private readonly events: BudgetEventLog;
  private readonly now: () => number;
  private readonly onEvent: (event: BudgetEvent) => void;
  private readonly logger: Logger | null;

  constructor(options: BudgetAdmissionOptions) {
    this.ledger = options.ledger;
    this.budgets = options.budgets;
    this.events = options.events;
    this.now = options.now ?? Date.now;
    this.onEvent = options.onEvent ?? (() => {});
    this.logger = options.logger ?? null;
  }

  /**
   * Decides whether the attempt may be sent and, when it may, reserves its worst-case cost.
   * Throws LedgerUnavailableError for a request that costs money when the ledger cannot be read.
   */
  admit(request: AdmissionRequest): AdmissionDecision {
    if (request.worstCaseUsd === 0) {
      return { kind: 'admitted', reservation: this.reserve(request, 0), checks: [] };
    }

    this.ledger.ensureCurrent();
    const raised: BudgetEvent[] = [];
    const decision = this.decide(request, raised);
    this.emit(raised);
    return decision;
  }

  /**
   * Settles a reservation to the real cost, writes its ledger row and raises the threshold
   * events it reaches. `alsoWrite` runs in the same transaction, so that the audit record can
   * share it. A failed write does not throw: see Settlement.persisted.
   */
  settle(reservation: Reservation, input: SettlementInput, alsoWrite?: () => void): Settlement {
    const raised: BudgetEvent[] = [];
    const costly = input.costUsd !== null && input.costUsd > 0;
    const { persisted } = this.ledger.settle(reservation, input, () => {
      if (costly) this.checkThresholds(reservation, raised);
      alsoWrite?.();
    });
    if (!persisted) {
      // The events were rolled back with the row; the next settlement raises them again.
      this.events.clearMemo();
      raised.length = 0;
    }
    this.emit(raised);
    return { costUsd: input.costUsd, persisted, differenceUsd: (input.costUsd ?? 0) - reservation.reservedUsd, events: raised };
  }

  /** Releases a reservation whose attempt failed. Returns false when it was not open. */
  release(reservation: Reservation): boolean {
    return this.ledger.release(reservation);
  }

  /** Records a request served from the cache, at no cost, for the savings reports. */
  recordCacheHit(input: CacheHitInput): { persisted: boolean } {
    return this.ledger.recordCacheHit(input);
  }

  /**
   * Reads the spend of every budget's current period, so that the first request after start
   * does not wait for it. That took about 1 µs per ledger row in those periods on a 2-core VM
   * (bench/governance.ts). Throws LedgerUnavailableError.
   */
  warm(): void {
    this.ledger.ensureCurrent();
    const instant = new Date(this.now());
    for (const active of this.budgets.allActive()) this.ledger.spendAsSynced(active.budget.scope, budgetPeriodAt(active.spec, instant));
  }

  /** Returns the budgets that apply to a request by `principal` on `alias`, most specific scope first. */
  applicableBudgets(principal: GovernancePrincipal, alias: string): ActiveBudget[] {
    return this.budgets.applicable(scopesOf(principal, alias));
  }

  private decide(request: AdmissionRequest, raised: BudgetEvent[]): AdmissionDecision {
    const now = this.now();
    const instant = new Date(now);
    const cost = request.worstCaseUsd;
    const checks: BudgetCheck[] = [];
    let blocking: { active: ActiveBudget; period: Period; breach: BudgetBreach } | null = null;
    let downgrading: { active: ActiveBudget; period: Period; breach: BudgetBreach } | null = null;

    for (const active of this.applicableBudgets(request.principal, request.alias)) {
      const { budget } = active;
      if (!budgetInForce(active.spec, instant)) continue;
      const period = budgetPeriodAt(active.spec, instant);
      const spend = this.ledger.spendAsSynced(budget.scope, period);
      checks.push({
        budgetId: budget.id,
        scope: budget.scope,
        limitUsd: budget.limitUsd,
        spentUsd: spend.settledUsd,
        reservedUsd: spend.reservedUsd,
        periodStart: period.start.getTime(),
        resetAt: period.end.getTime(),
      });

      const fits = cost !== null && spend.settledUsd + spend.reservedUsd + cost <= budget.limitUsd + TOLERANCE_USD;
      if (fits) continue;

      const breach: BudgetBreach = {
        budgetId: budget.id,
        scope: budget.scope,
        periodKind: budget.period.kind,
        timeZone: active.timeZone,
        limitUsd: budget.limitUsd,
        spentUsd: spend.settledUsd,
        reservedUsd: spend.reservedUsd,
        requestUsd: cost,
        resetAt: period.end,
        reason: cost === null ? 'price_unknown' : 'limit',
      };
      const downgradeAllowed = budget.action === 'downgrade' && !request.downgradedBy && budget.downgradeAlias !== request.alias;
      if (!downgradeAllowed) {
        blocking ??= { active, period, breach };
      } else {
        downgrading ??= { active, period, breach };
      }
    }

    if (blocking) {
      this.recordOnce('blocked', blocking.active, blocking.period, blocking.breach.spentUsd, request.requestId, now, raised);
      return { kind: 'blocked', error: new BudgetExceededError(blocking.breach), checks };
    }
    if (downgrading) {
      this.recordOnce('downgraded', downgrading.active, downgrading.period, downgrading.breach.spentUsd, request.requestId, now, raised);
      return { kind: 'downgrade', alias: downgrading.active.budget.downgradeAlias!, budgetId: downgrading.active.budget.id, breach: downgrading.breach, checks };
    }

    return { kind: 'admitted', reservation: this.reserve(request, cost ?? 0), checks };
  }

  private reserve(request: AdmissionRequest, reservedUsd: number): Reservation {
    return this.ledger.reserve({
      requestId: request.requestId,
      principal: request.principal,
      alias: request.alias,
      requestedModel: request.requestedModel,
      deploymentId: request.deployment.id,
      model: request.deployment.model,
      reservedUsd,
      downgradedBy: request.downgradedBy ?? null,
    });
  }

  /** Records the threshold events that the settled spend of each budget period has reached. */
  private checkThresholds(reservation: Reservation, raised: BudgetEvent[]): void {
    const instant = new Date(reservation.createdAt);
    for (const active of this.applicableBudgets(reservation.principal, reservation.alias)) {
      const { budget } = active;
      if (!budgetInForce(active.spec, instant)) continue;
      const period = budgetPeriodAt(active.spec, instant);
      const spent = this.ledger.spendAsSynced(budget.scope, period).settledUsd;
      const percent = percentOfLimit(spent, budget.limitUsd);
      const highest = this.events.highestThreshold(budget.id, period.start.getTime());
      for (const threshold of budget.thresholds) {
        if (threshold <= highest || threshold > percent + TOLERANCE_PERCENT) continue;
        try {
          const event = this.events.record({
            ...eventBase(active, period, spent, reservation.requestId, this.now()),
            kind: 'threshold',
            thresholdPct: threshold,
          });
          if (event) raised.push(event);
        } catch (error) {
          // Caught here, so that a failed event never keeps the ledger row from being written.
          this.logger?.warn({ err: error, budgetId: budget.id, threshold }, 'could not record a budget threshold event');
        }
      }
    }
  }

  private recordOnce(
    kind: 'blocked' | 'downgraded',
    active: ActiveBudget,
    period: Period,
    spent: number,
    requestId: string,
    now: number,
    raised: BudgetEvent[],
  ): void {
    try {
      if (this.events.has(active.budget.id, period.start.getTime(), kind)) return;
      const event = this.events.record({ ...eventBase(active, period, spent, requestId, now), kind, thresholdPct: null });
      if (event) raised.push(event);
    } catch (error) {
      // The decision is kept without its event, so the UI misses one notice.
      this.logger?.warn({ err: error, budgetId: active.budget.id, kind }, 'could not record a budget event');
    }
  }

  private emit(events: BudgetEvent[]): void {
    for (const event of events) {
      try {
        this.onEvent(event);
      } catch (error) {
        this.logger?.error({ err: error, budgetId: event.budgetId, kind: event.kind }, 'budget event listener failed');
      }
    }
  }
}

function eventBase(active: ActiveBudget, period: Period, spent: number, requestId: string, now: number): Omit<BudgetEventInput, 'kind' | 'thresholdPct'> {
  return {
    budgetId: active.budget.id,
    scope: active.budget.scope,
    periodStart: period.start.getTime(),
    periodEnd: period.end.getTime(),
    limitUsd: active.budget.limitUsd,
    spentUsd: spent,
    requestId,
    createdAt: now,
  };
}
