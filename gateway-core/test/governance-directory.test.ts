import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors';
import { openGovernance, seedOrganisation, type GovernanceFixture } from './helpers/governance';

let fixture: GovernanceFixture;

beforeEach(() => {
  fixture = openGovernance();
});

afterEach(() => {
  fixture.dispose();
});

function caught(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError');
}

describe('directory teams and users', () => {
  it('creates a team with defaults', () => {
    const team = fixture.gov.directory.createTeam({ id: 'backend' });
    expect(team.name).toBe('backend');
    expect(team.rpmLimit).toBeNull();
    expect(team.source).toBe('api');
    expect(fixture.gov.directory.listTeams().map((t) => t.id)).toEqual(['backend']);
  });

  it('rejects a user without an existing team', () => {
    const error = caught(() => fixture.gov.directory.createUser({ id: 'alice', teamId: 'nowhere' }));
    expect(error.kind).toBe('invalid_value');
    expect(error.param).toBe('team_id');
    expect(error.message).toMatch(/Team "nowhere" does not exist/);
  });

  it('rejects an id with spaces', () => {
    const error = caught(() => fixture.gov.directory.createTeam({ id: 'back end' }));
    expect(error.param).toBe('id');
    expect(error.message).toMatch(/without spaces/);
  });

  it('rejects a duplicate team', () => {
    fixture.gov.directory.createTeam({ id: 'backend' });
    const error = caught(() => fixture.gov.directory.createTeam({ id: 'backend' }));
    expect(error.param).toBe('id');
    expect(error.message).toMatch(/already exists/);
  });

  it('rejects a limit below 1', () => {
    const error = caught(() => fixture.gov.directory.createTeam({ id: 'backend', rpmLimit: 0 }));
    expect(error.param).toBe('rpm_limit');
    expect(error.message).toMatch(/at least 1 per minute/);
  });

  it('rejects an invalid email', () => {
    fixture.gov.directory.createTeam({ id: 'backend' });
    const error = caught(() => fixture.gov.directory.createUser({ id: 'alice', teamId: 'backend', email: 'alice' }));
    expect(error.param).toBe('email');
  });

  it('moves a user to another team', () => {
    seedOrganisation(fixture);
    const moved = fixture.gov.directory.updateUser('alice', { teamId: 'marketing' });
    expect(moved.teamId).toBe('marketing');
    expect(moved.email).toBeNull();
  });

  it('refuses to delete a team with users', () => {
    seedOrganisation(fixture);
    const error = caught(() => fixture.gov.directory.deleteTeam('backend'));
    expect(error.param).toBe('id');
    expect(error.message).toMatch(/1 user\(s\) belong to it/);
  });

  it('refuses to delete a user with active keys', () => {
    seedOrganisation(fixture);
    const error = caught(() => fixture.gov.directory.deleteUser('alice'));
    expect(error.message).toMatch(/1 active key\(s\) belong to it/);
  });

  it('deletes a user once their keys are revoked', () => {
    const { alice } = seedOrganisation(fixture);
    fixture.keyStore.revokeKey(alice.keyId);
    fixture.gov.directory.deleteUser('alice');
    expect(fixture.gov.directory.getUser('alice')).toBeNull();
  });

  it('reports an unknown team as not found', () => {
    const error = caught(() => fixture.gov.directory.updateTeam('ghost', { name: 'Ghost' }));
    expect(error.kind).toBe('not_found');
  });

  it('renames the organisation', () => {
    expect(fixture.gov.directory.organization().name).toBe('Organization');
    fixture.gov.directory.renameOrganization('Acme');
    expect(fixture.gov.directory.organization().name).toBe('Acme');
  });
});

describe('directory config rows', () => {
  it('locks config teams against API changes', () => {
    fixture.gov.directory.putConfigTeam({ id: 'backend' });
    const error = caught(() => fixture.gov.directory.updateTeam('backend', { name: 'B' }));
    expect(error.kind).toBe('forbidden');
    expect(error.message).toMatch(/airlock\.governance\.teams/);
    expect(caught(() => fixture.gov.directory.deleteTeam('backend')).kind).toBe('forbidden');
  });

  it('keeps a removed config team that users still need', () => {
    fixture.gov.directory.putConfigTeam({ id: 'backend' });
    fixture.gov.directory.createUser({ id: 'alice', teamId: 'backend' });
    const removal = fixture.gov.directory.removeConfigTeam('backend');
    expect(removal.removed).toBe(false);
    expect(fixture.gov.directory.getTeam('backend')!.source).toBe('api');
  });
});

describe('key directory resolve', () => {
  it('takes the team from the user, not the key', () => {
    const { alice } = seedOrganisation(fixture);
    fixture.gov.directory.updateUser('alice', { teamId: 'marketing' });
    // The key row still names backend, but the directory's user entry wins.
    const resolved = fixture.gov.keys.resolve({ keyId: alice.keyId, userId: 'alice', teamId: 'backend' });
    expect(resolved.teamId).toBe('marketing');
  });

  it('returns the limits of key, user and team', () => {
    const { alice } = seedOrganisation(fixture);
    fixture.gov.keys.setKeyLimits(alice.keyId, { rpmLimit: 10, tpmLimit: null });
    fixture.gov.directory.updateUser('alice', { tpmLimit: 5000 });
    fixture.gov.directory.updateTeam('backend', { rpmLimit: 600, tpmLimit: 100_000 });
    const resolved = fixture.gov.keys.resolve(alice);
    expect(resolved.limits.key).toEqual({ rpm: 10, tpm: null });
    expect(resolved.limits.user).toEqual({ rpm: null, tpm: 5000 });
    expect(resolved.limits.team).toEqual({ rpm: 600, tpm: 100_000 });
  });

  it('keeps a principal without a key row', () => {
    const resolved = fixture.gov.keys.resolve({ keyId: 'master', userId: null, teamId: null });
    expect(resolved).toEqual({
      keyId: 'master',
      userId: null,
      teamId: null,
      limits: { key: { rpm: null, tpm: null }, user: { rpm: null, tpm: null }, team: { rpm: null, tpm: null } },
    });
  });

  it('uses the key team for a user not in the directory', () => {
    fixture.gov.directory.createTeam({ id: 'backend' });
    const key = fixture.keyStore.create('legacy', 'user', { userId: 'carol', teamId: 'backend' }).record;
    const resolved = fixture.gov.keys.resolve({ keyId: key.id, userId: 'carol', teamId: 'backend' });
    expect(resolved.userId).toBe('carol');
    expect(resolved.teamId).toBe('backend');
  });

  it('rejects limits for an unknown key', () => {
    const error = caught(() => fixture.gov.keys.setKeyLimits('key_missing', { rpmLimit: 1, tpmLimit: null }));
    expect(error.kind).toBe('not_found');
  });
});

describe('key directory checkKeyOwner', () => {
  it('fills in the user team', () => {
    seedOrganisation(fixture);
    expect(fixture.gov.keys.checkKeyOwner({ userId: 'alice' })).toEqual({ userId: 'alice', teamId: 'backend' });
  });

  it('rejects a team that differs from the user team', () => {
    seedOrganisation(fixture);
    const error = caught(() => fixture.gov.keys.checkKeyOwner({ userId: 'alice', teamId: 'marketing' }));
    expect(error.param).toBe('team_id');
    expect(error.message).toMatch(/belongs to team 'backend'/);
  });

  it('rejects an unknown user', () => {
    const error = caught(() => fixture.gov.keys.checkKeyOwner({ userId: 'nobody' }));
    expect(error.param).toBe('user_id');
  });
});
