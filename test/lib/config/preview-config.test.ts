import { parsePreviewConfig } from '../../../lib/config';

describe('parsePreviewConfig', () => {
  test('defaults', () => {
    expect(parsePreviewConfig({}, 'hipaa-fhir')).toEqual({
      branchPatterns: ['feature/*'],
      pullRequestBaseBranch: 'main',
      ttlHours: 72,
      maxEnvironments: 5,
      databaseSecretName: 'hipaa-fhir/previews/db-credentials',
      bootstrapQualifier: 'hnb659fds',
    });
  });
  test("sandbox account, its bootstrap qualifier and the secret's CMK", () => {
    const keyArn = 'arn:aws:kms:eu-west-2:222222222222:key/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b';
    expect(
      parsePreviewConfig({ account: '222222222222', bootstrapQualifier: 'branches', databaseSecretKeyArn: keyArn }, 'hipaa-fhir'),
    ).toMatchObject({ account: '222222222222', bootstrapQualifier: 'branches', databaseSecretKeyArn: keyArn });
  });
  test.each([
    [{ branchPatterns: [] }, 'previews.branchPatterns [] is invalid'],
    [{ branchPatterns: ['feature/ bad'] }, 'previews.branchPatterns ["feature/ bad"] is invalid'],
    [{ ttlHours: 0 }, 'previews.ttlHours 0 is invalid: expected a whole number of hours from 1 to 720'],
    [{ maxEnvironments: 51 }, 'previews.maxEnvironments 51 is invalid'],
    [{ pullRequestBaseBranch: '' }, 'previews.pullRequestBaseBranch "" is invalid'],
    [{ ttl: 3 }, 'unknown previews key "previews.ttl"'],
    [{ account: '1234' }, 'previews.account "1234" is invalid: use the 12-digit id of the sandbox account'],
    [{ databaseSecretKeyArn: 'alias/x' }, 'previews.databaseSecretKeyArn "alias/x" is invalid: use a KMS key ARN'],
    [{ bootstrapQualifier: 'Too-Long-Qualifier' }, 'previews.bootstrapQualifier "Too-Long-Qualifier" is invalid'],
  ])('%j', (raw, message) => {
    expect(() => parsePreviewConfig(raw, 'hipaa-fhir')).toThrow(message);
  });
});
