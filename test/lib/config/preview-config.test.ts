import { previewConfig, validateContext } from '../../../lib/config';
import { referencePreviewConfig } from '../../../scripts/generators/reference-app';

describe('previews, resolved', () => {
  test("defaults: the schema's, and the shared secret named after the project", () => {
    expect(previewConfig(validateContext({ project: 'hipaa-fhir', environments: { dev: {} } }).previews, 'hipaa-fhir')).toEqual({
      branchPatterns: ['feature/*'],
      pullRequestBaseBranch: 'main',
      ttlHours: 72,
      // The default VPC quota is 5 per region and a fresh account's default VPC uses one.
      maxEnvironments: 4,
      databaseSecretName: 'hipaa-fhir/previews/db-credentials',
      bootstrapQualifier: 'hnb659fds',
    });
  });

  test("sandbox account, its bootstrap qualifier and the secret's CMK", () => {
    const keyArn = 'arn:aws:kms:eu-west-2:444444444444:key/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b';
    expect(referencePreviewConfig({ databaseSecretKeyArn: keyArn, databaseSecretName: 'shared/previews' })).toMatchObject({
      account: '444444444444',
      bootstrapQualifier: 'branches',
      databaseSecretKeyArn: keyArn,
      databaseSecretName: 'shared/previews',
    });
  });
});
