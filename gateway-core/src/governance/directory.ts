/**
 * The organisation's directory: one organisation, its teams, and users who each belong to one
 * team. Keys and the principal a request counts toward are in key-directory.ts.
 *
 * Rows come from the config file (source "config", rewritten at each start by config-sync.ts)
 * or from the management API (source "api"). The API may not change config rows, because the
 * next start would undo the change.
 */
import type { SqliteDatabase } from '../storage/database';
import { definedInConfig, invalidField, notFound } from './errors';

export type RowSource = 'config' | 'api';

export interface Team {
  id: string;
  name: string;
  /** Requests per minute for all of the team's keys together; null for no limit. */
  rpmLimit: number | null;
  /** Prompt and output tokens per minute for all of the team's keys together; null for no limit. */
  tpmLimit: number | null;
  source: RowSource;
  createdAt: number;
  updatedAt: number;
}

export interface User {
  id: string;
  name: string;
  email: string | null;
  teamId: string;
  rpmLimit: number | null;
  tpmLimit: number | null;
  source: RowSource;
  createdAt: number;
  updatedAt: number;
}

export interface TeamInput {
  id: string;
  /** Display name; the id when missing. */
  name?: string;
  rpmLimit?: number | null;
  tpmLimit?: number | null;
}

export interface UserInput {
  id: string;
  name?: string;
  email?: string | null;
  teamId: string;
  rpmLimit?: number | null;
  tpmLimit?: number | null;
}

interface TeamRow {
  id: string;
  name: string;
  rpm_limit: number | null;
  tpm_limit: number | null;
  source: RowSource;
  created_at: number;
  updated_at: number;
}

interface UserRow extends TeamRow {
  email: string | null;
  team_id: string;
}

/** Ids are what keys, budgets and routing rules refer to: 1 to 128 characters, no spaces or control characters. */
const ID_PATTERN = /^[^\s\u0000-\u001f\u007f]{1,128}$/;
const MAX_NAME_LENGTH = 200;

export class Directory {
  private readonly statements;
  /** Called after every write to teams or users, so that caches of key owners can be dropped. */
  private readonly onChange: () => void;

  constructor(db: SqliteDatabase, options: { onChange?: () => void } = {}) {
    this.onChange = options.onChange ?? (() => {});
    this.statements = {
      organization: db.prepare<[], { name: string; updated_at: number }>('SELECT name, updated_at FROM organization WHERE id = 1'),
      renameOrganization: db.prepare('UPDATE organization SET name = ?, updated_at = ? WHERE id = 1'),
      teams: db.prepare<[], TeamRow>('SELECT * FROM teams ORDER BY id'),
      team: db.prepare<[string], TeamRow>('SELECT * FROM teams WHERE id = ?'),
      insertTeam: db.prepare('INSERT INTO teams (id, name, rpm_limit, tpm_limit, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      updateTeam: db.prepare('UPDATE teams SET name = ?, rpm_limit = ?, tpm_limit = ?, source = ?, updated_at = ? WHERE id = ?'),
      deleteTeam: db.prepare('DELETE FROM teams WHERE id = ?'),
      users: db.prepare<[], UserRow>('SELECT * FROM users ORDER BY id'),
      usersOfTeam: db.prepare<[string], UserRow>('SELECT * FROM users WHERE team_id = ? ORDER BY id'),
      user: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
      insertUser: db.prepare(
        'INSERT INTO users (id, name, email, team_id, rpm_limit, tpm_limit, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      updateUser: db.prepare('UPDATE users SET name = ?, email = ?, team_id = ?, rpm_limit = ?, tpm_limit = ?, source = ?, updated_at = ? WHERE id = ?'),
      deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
      setSource: {
        team: db.prepare('UPDATE teams SET source = ? WHERE id = ?'),
        user: db.prepare('UPDATE users SET source = ? WHERE id = ?'),
      },
      teamMembers: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM users WHERE team_id = ?'),
      activeKeysOfUser: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM api_keys WHERE user_id = ? AND revoked_at IS NULL'),
      activeKeysOfTeam: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM api_keys WHERE team_id = ? AND revoked_at IS NULL'),
      budgetsOf: db.prepare<[string, string], { id: string }>('SELECT id FROM budgets WHERE scope_kind = ? AND scope_id = ? ORDER BY id'),
    };
  }

  // ---- organisation ----

  organization(): { name: string; updatedAt: number } {
    const row = this.statements.organization.get()!;
    return { name: row.name, updatedAt: row.updated_at };
  }

  renameOrganization(name: string): void {
    this.statements.renameOrganization.run(checkName(name, 'name'), Date.now());
  }

  // ---- teams ----

  listTeams(): Team[] {
    return this.statements.teams.all().map(toTeam);
  }

  getTeam(id: string): Team | null {
    const row = this.statements.team.get(id);
    return row ? toTeam(row) : null;
  }

  /** Creates a team through the API. Throws invalid_value naming the field at fault. */
  createTeam(input: TeamInput): Team {
    const team = checkTeamInput(input);
    if (this.statements.team.get(team.id)) {
      throw invalidField('id', `Team '${team.id}' already exists. Choose another id, or update the existing team.`);
    }
    const now = Date.now();
    this.statements.insertTeam.run(team.id, team.name, team.rpmLimit, team.tpmLimit, 'api', now, now);
    this.onChange();
    return this.getTeam(team.id)!;
  }

  /** Updates an API team; fields missing from `patch` keep their values. */
  updateTeam(id: string, patch: Partial<Omit<TeamInput, 'id'>>): Team {
    const existing = this.requireTeam(id);
    if (existing.source === 'config') throw definedInConfig('Team', id, 'airlock.governance.teams');
    const team = checkTeamInput({ ...existing, ...withoutUndefined(patch), id });
    this.statements.updateTeam.run(team.name, team.rpmLimit, team.tpmLimit, 'api', Date.now(), id);
    this.onChange();
    return this.getTeam(id)!;
  }

  /** Deletes an API team that no user, active key or budget refers to. */
  deleteTeam(id: string): void {
    const existing = this.requireTeam(id);
    if (existing.source === 'config') throw definedInConfig('Team', id, 'airlock.governance.teams');
    const references = this.teamReferences(id);
    if (references !== null) {
      throw invalidField('id', `Team '${id}' cannot be deleted because ${references}. Move or delete those first.`);
    }
    this.statements.deleteTeam.run(id);
    this.onChange();
  }

  // ---- users ----

  listUsers(filter: { teamId?: string } = {}): User[] {
    const rows = filter.teamId === undefined ? this.statements.users.all() : this.statements.usersOfTeam.all(filter.teamId);
    return rows.map(toUser);
  }

  getUser(id: string): User | null {
    const row = this.statements.user.get(id);
    return row ? toUser(row) : null;
  }

  createUser(input: UserInput): User {
    const user = this.checkUserInput(input);
    if (this.statements.user.get(user.id)) {
      throw invalidField('id', `User '${user.id}' already exists. Choose another id, or update the existing user.`);
    }
    const now = Date.now();
    this.statements.insertUser.run(user.id, user.name, user.email, user.teamId, user.rpmLimit, user.tpmLimit, 'api', now, now);
    this.onChange();
    return this.getUser(user.id)!;
  }

  /** Updates an API user; moving them to another team moves the spend of their future requests. */
  updateUser(id: string, patch: Partial<Omit<UserInput, 'id'>>): User {
    const existing = this.requireUser(id);
    if (existing.source === 'config') throw definedInConfig('User', id, 'airlock.governance.users');
    const user = this.checkUserInput({ ...existing, ...withoutUndefined(patch), id });
    this.statements.updateUser.run(user.name, user.email, user.teamId, user.rpmLimit, user.tpmLimit, 'api', Date.now(), id);
    this.onChange();
    return this.getUser(id)!;
  }

  /** Deletes an API user that no active key or budget refers to. */
  deleteUser(id: string): void {
    const existing = this.requireUser(id);
    if (existing.source === 'config') throw definedInConfig('User', id, 'airlock.governance.users');
    const references = this.userReferences(id);
    if (references !== null) {
      throw invalidField('id', `User '${id}' cannot be deleted because ${references}. Revoke or delete those first.`);
    }
    this.statements.deleteUser.run(id);
    this.onChange();
  }

  // ---- config sync ----

  /** Creates or replaces a team from the config file; an API team with the same id becomes a config team. */
  putConfigTeam(input: TeamInput): 'created' | 'updated' {
    const team = checkTeamInput(input);
    const now = Date.now();
    if (this.statements.team.get(team.id)) {
      this.statements.updateTeam.run(team.name, team.rpmLimit, team.tpmLimit, 'config', now, team.id);
      this.onChange();
      return 'updated';
    }
    this.statements.insertTeam.run(team.id, team.name, team.rpmLimit, team.tpmLimit, 'config', now, now);
    this.onChange();
    return 'created';
  }

  putConfigUser(input: UserInput): 'created' | 'updated' {
    const user = this.checkUserInput(input);
    const now = Date.now();
    if (this.statements.user.get(user.id)) {
      this.statements.updateUser.run(user.name, user.email, user.teamId, user.rpmLimit, user.tpmLimit, 'config', now, user.id);
      this.onChange();
      return 'updated';
    }
    this.statements.insertUser.run(user.id, user.name, user.email, user.teamId, user.rpmLimit, user.tpmLimit, 'config', now, now);
    this.onChange();
    return 'created';
  }

  /**
   * Removes a team that left the config file. A team that something still refers to is kept as
   * an API team instead, and the reason is returned.
   */
  removeConfigTeam(id: string): { removed: true } | { removed: false; reason: string } {
    const references = this.teamReferences(id);
    if (references !== null) {
      this.statements.setSource.team.run('api', id);
      return { removed: false, reason: references };
    }
    this.statements.deleteTeam.run(id);
    this.onChange();
    return { removed: true };
  }

  removeConfigUser(id: string): { removed: true } | { removed: false; reason: string } {
    const references = this.userReferences(id);
    if (references !== null) {
      this.statements.setSource.user.run('api', id);
      return { removed: false, reason: references };
    }
    this.statements.deleteUser.run(id);
    this.onChange();
    return { removed: true };
  }

  // ---- helpers ----

  private requireTeam(id: string): Team {
    const team = this.getTeam(id);
    if (!team) throw notFound('Team', id, 'List teams to find its id.');
    return team;
  }

  private requireUser(id: string): User {
    const user = this.getUser(id);
    if (!user) throw notFound('User', id, 'List users to find its id.');
    return user;
  }

  private checkUserInput(input: UserInput): Required<Omit<UserInput, 'email'>> & { email: string | null } {
    const id = checkId(input.id, 'id');
    if (typeof input.teamId !== 'string' || !this.statements.team.get(input.teamId)) {
      throw invalidField('team_id', `Team ${JSON.stringify(input.teamId)} does not exist. Every user belongs to a team: create the team first, or name an existing one.`);
    }
    return {
      id,
      name: input.name === undefined ? id : checkName(input.name, 'name'),
      email: checkEmail(input.email ?? null),
      teamId: input.teamId,
      rpmLimit: checkLimit(input.rpmLimit ?? null, 'rpm_limit'),
      tpmLimit: checkLimit(input.tpmLimit ?? null, 'tpm_limit'),
    };
  }

  /** Describes what refers to a team, or returns null when nothing does. */
  private teamReferences(id: string): string | null {
    const parts: string[] = [];
    const members = this.statements.teamMembers.get(id)!.n;
    if (members > 0) parts.push(`${members} user(s) belong to it`);
    const keys = this.statements.activeKeysOfTeam.get(id)!.n;
    if (keys > 0) parts.push(`${keys} active key(s) name it`);
    const budgets = this.statements.budgetsOf.all('team', id).map((row) => row.id);
    if (budgets.length > 0) parts.push(`budget(s) ${budgets.map((b) => `'${b}'`).join(', ')} apply to it`);
    return parts.length === 0 ? null : parts.join(' and ');
  }

  private userReferences(id: string): string | null {
    const parts: string[] = [];
    const keys = this.statements.activeKeysOfUser.get(id)!.n;
    if (keys > 0) parts.push(`${keys} active key(s) belong to it`);
    const budgets = this.statements.budgetsOf.all('user', id).map((row) => row.id);
    if (budgets.length > 0) parts.push(`budget(s) ${budgets.map((b) => `'${b}'`).join(', ')} apply to it`);
    return parts.length === 0 ? null : parts.join(' and ');
  }
}

function checkTeamInput(input: TeamInput): Required<TeamInput> {
  const id = checkId(input.id, 'id');
  return {
    id,
    name: input.name === undefined ? id : checkName(input.name, 'name'),
    rpmLimit: checkLimit(input.rpmLimit ?? null, 'rpm_limit'),
    tpmLimit: checkLimit(input.tpmLimit ?? null, 'tpm_limit'),
  };
}

/** Checks an id for a team or user. */
export function checkId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw invalidField(field, `Invalid ${field} ${JSON.stringify(value) ?? String(value)}: expected 1 to 128 characters without spaces or control characters, such as "backend" or "alice@example.com".`);
  }
  return value;
}

function checkName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_NAME_LENGTH) {
    throw invalidField(field, `Invalid ${field} ${JSON.stringify(value) ?? String(value)}: expected a non-empty display name of at most ${MAX_NAME_LENGTH} characters.`);
  }
  return value.trim();
}

function checkEmail(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(value) || value.length > 320) {
    throw invalidField('email', `Invalid email ${JSON.stringify(value) ?? String(value)}: expected an address such as "alice@example.com", or leave it out.`);
  }
  return value;
}

/** Checks an rpm_limit or tpm_limit: a whole number of at least 1, or null for no limit. */
export function checkLimit(value: unknown, field: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidField(field, `Invalid ${field} ${JSON.stringify(value) ?? String(value)}: expected a whole number of at least 1 per minute, or null for no limit.`);
  }
  return value;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toTeam(row: TeamRow): Team {
  return {
    id: row.id,
    name: row.name,
    rpmLimit: row.rpm_limit,
    tpmLimit: row.tpm_limit,
    source: row.source,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toUser(row: UserRow): User {
  return { ...toTeam(row), email: row.email, teamId: row.team_id };
}
