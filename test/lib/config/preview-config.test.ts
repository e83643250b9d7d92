import { validateContext } from '../../../lib/config';
import { referencePreviewConfig } from '../../../scripts/generators/reference-app';

describe('previews, resolved', () => {
  test("defaults: the schema's; no secret setting (each preview's master password is RDS-managed)", () => {
    expect(validateContext({ project: 'hipaa-fhir', environments: { dev: {} } }).previews).toEqual({
      branchPatterns: ['feature/*'],
      pullRequestBaseBranch: 'main',
      ttlHours: 72,
      // The default VPC quota is 5 per region and a fresh account's default VPC uses one.
      maxEnvironments: 4,
      bootstrapQualifier: 'hnb659fds',
    });
  });

  test('sandbox account and its bootstrap qualifier', () => {
    expect(referencePreviewConfig()).toMatchObject({ account: '444444444444', bootstrapQualifier: 'branches' });
  });
});
