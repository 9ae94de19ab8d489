/**
 * Builds the governance layer on one database connection: directory, budgets, ledger, budget
 * events, admission, rate limits and reports. A write by another connection reaches the
 * budgets, spend sums and event memo that are kept in memory.
 */
import type { Logger } from '../logger';
import type { SqliteDatabase } from '../storage/database';
import { BudgetAdmission } from './admission';
import { BudgetStore } from './budgets';
import { governanceSchema, type GovernanceConfig } from './config-schema';
import { applyGovernanceConfig, type GovernanceSyncResult } from './config-sync';
import { Directory } from './directory';
import { KeyDirectory } from './key-directory';
import { BudgetEventLog, type BudgetEvent } from './events';
import { SpendLedger } from './ledger';
import { RateLimiter } from './rate-limits';
import { SpendReports } from './reports';

export interface GovernanceOptions {
  /** Clock in milliseconds since the epoch; default Date.now. Tests move it. */
  now?: () => number;
  /** Receives each new budget event (threshold, blocked, downgraded) after it is stored. */
  onEvent?: (event: BudgetEvent) => void;
  /** Whether a model_name exists; budgets on unknown aliases are rejected when set. */
  isKnownAlias?: (alias: string) => boolean;
  logger?: Logger;
}

export interface Governance {
  directory: Directory;
  keys: KeyDirectory;
  budgets: BudgetStore;
  ledger: SpendLedger;
  events: BudgetEventLog;
  admission: BudgetAdmission;
  rateLimits: RateLimiter;
  reports: SpendReports;
  /** Applies airlock.governance, or its defaults when the section is missing. Call once at start. */
  applyConfig(config?: GovernanceConfig): GovernanceSyncResult;
}

export function createGovernance(db: SqliteDatabase, options: GovernanceOptions = {}): Governance {
  const now = options.now ?? Date.now;
  const keys = new KeyDirectory(db);
  const directory = new Directory(db, { onChange: () => keys.invalidate() });
  const budgets = new BudgetStore(db, { isKnownAlias: options.isKnownAlias });
  const ledger = new SpendLedger(db, { now, logger: options.logger });
  const events = new BudgetEventLog(db);
  ledger.onExternalChange(() => {
    keys.invalidate();
    budgets.reload();
    events.clearMemo();
  });
  const admission = new BudgetAdmission({ ledger, budgets, events, now, onEvent: options.onEvent, logger: options.logger });
  const rateLimits = new RateLimiter({ now });
  const reports = new SpendReports({ db, ledger, budgets, now });

  return {
    directory,
    keys,
    budgets,
    ledger,
    events,
    admission,
    rateLimits,
    reports,
    applyConfig(config = governanceSchema.parse({})) {
      return applyGovernanceConfig({ db, directory, budgets }, config);
    },
  };
}
