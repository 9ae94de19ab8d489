/**
 * Writes the config file's teams, users and budgets into the database at start. Config rows are
 * replaced on each start: rows that left the file are deleted, the rest are created or
 * overwritten. Rows created through the management API are kept. Everything happens in one
 * transaction, so an invalid entry leaves the database as it was.
 */
import { GatewayError } from '../errors';
import type { SqliteDatabase } from '../storage/database';
import type { BudgetStore } from './budgets';
import { configBudgetId, toBudgetInput, toTeamInput, toUserInput, type GovernanceConfig } from './config-schema';
import type { Directory } from './directory';

/** An entry of airlock.governance that the database rejects; the message starts with its key path. */
export class GovernanceConfigError extends Error {
  readonly keyPath: string;

  constructor(keyPath: string, message: string, cause: unknown) {
    super(`invalid config: ${keyPath}: ${message}`, { cause });
    this.name = 'GovernanceConfigError';
    this.keyPath = keyPath;
  }
}

export interface SyncCounts {
  created: string[];
  updated: string[];
  removed: string[];
}

export interface GovernanceSyncResult {
  teams: SyncCounts;
  users: SyncCounts;
  budgets: SyncCounts;
  /** Things to log once at start, such as a removed team that was kept because users still belong to it. */
  warnings: string[];
}

export interface GovernanceStores {
  db: SqliteDatabase;
  directory: Directory;
  budgets: BudgetStore;
}

const SECTION = 'airlock.governance';

/**
 * Applies a parsed airlock.governance section. Throws GovernanceConfigError naming the entry, such
 * as "airlock.governance.budgets[1].scope_id", when a row cannot be written.
 */
export function applyGovernanceConfig(stores: GovernanceStores, config: GovernanceConfig): GovernanceSyncResult {
  const { db, directory, budgets } = stores;
  const result: GovernanceSyncResult = {
    teams: emptyCounts(),
    users: emptyCounts(),
    budgets: emptyCounts(),
    warnings: [],
  };

  withPath(`${SECTION}.time_zone`, () => budgets.setDefaultTimeZone(config.time_zone));

  const apply = db.transaction(() => {
    if (config.organization !== undefined) withPath(`${SECTION}.organization`, () => directory.renameOrganization(config.organization!));

    const apiTeams = new Set(directory.listTeams().filter((team) => team.source === 'api').map((team) => team.id));
    config.teams.forEach((entry, index) => {
      const outcome = withPath(`${SECTION}.teams[${index}]`, () => directory.putConfigTeam(toTeamInput(entry)));
      result.teams[outcome].push(entry.id);
      if (apiTeams.has(entry.id)) result.warnings.push(`${SECTION}.teams[${index}]: team '${entry.id}' existed as an API team; the config now defines it`);
    });

    const apiUsers = new Set(directory.listUsers().filter((user) => user.source === 'api').map((user) => user.id));
    config.users.forEach((entry, index) => {
      const outcome = withPath(`${SECTION}.users[${index}]`, () => directory.putConfigUser(toUserInput(entry)));
      result.users[outcome].push(entry.id);
      if (apiUsers.has(entry.id)) result.warnings.push(`${SECTION}.users[${index}]: user '${entry.id}' existed as an API user; the config now defines it`);
    });

    // Budgets that left the file go first, so that they do not keep a removed team or user.
    const budgetIds = config.budgets.map(configBudgetId);
    result.budgets.removed.push(...budgets.removeConfigBudgets(new Set(budgetIds)));
    config.budgets.forEach((entry, index) => {
      const id = budgetIds[index]!;
      const outcome = withPath(`${SECTION}.budgets[${index}]`, () => budgets.putConfigBudget({ ...toBudgetInput(entry), id }));
      result.budgets[outcome].push(id);
    });

    const configUsers = new Set(config.users.map((user) => user.id));
    for (const user of directory.listUsers()) {
      if (user.source !== 'config' || configUsers.has(user.id)) continue;
      const removal = directory.removeConfigUser(user.id);
      if (removal.removed) result.users.removed.push(user.id);
      else result.warnings.push(`user '${user.id}' was removed from ${SECTION}.users but is kept as an API user, because ${removal.reason}`);
    }

    const configTeams = new Set(config.teams.map((team) => team.id));
    for (const team of directory.listTeams()) {
      if (team.source !== 'config' || configTeams.has(team.id)) continue;
      const removal = directory.removeConfigTeam(team.id);
      if (removal.removed) result.teams.removed.push(team.id);
      else result.warnings.push(`team '${team.id}' was removed from ${SECTION}.teams but is kept as an API team, because ${removal.reason}`);
    }
  });

  try {
    apply.immediate();
  } finally {
    // The store's index may hold rows of a transaction that rolled back.
    budgets.reload();
  }
  return result;
}

function emptyCounts(): SyncCounts {
  return { created: [], updated: [], removed: [] };
}

/** Runs `fn` and prefixes a validation error with the entry's key path and field. */
function withPath<T>(keyPath: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof GatewayError) || error.kind !== 'invalid_value') throw error;
    const param = error.param;
    const path = param === null || keyPath.endsWith(`.${param}`) ? keyPath : `${keyPath}.${param}`;
    throw new GovernanceConfigError(path, error.message, error);
  }
}
