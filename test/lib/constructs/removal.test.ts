import { RemovalPolicy } from 'aws-cdk-lib';
import { lifecycleOf, removalPolicyFor } from '../../../lib/constructs/removal';
import { testConfig } from '../../helpers';

describe('removal (what a profile decides about how long things live)', () => {
  test('development: everything goes with the stack, logs expire after 7 days, keys are deleted after the shortest window', () => {
    expect(lifecycleOf(testConfig({ profile: 'development' }))).toEqual({
      removalPolicy: RemovalPolicy.DESTROY,
      logs: { retentionDays: 7, removalPolicy: RemovalPolicy.DESTROY },
      keys: { removalPolicy: RemovalPolicy.DESTROY, pendingWindowDays: 7 },
    });
  });

  test('production: everything is retained, logs six years (HIPAA documentation retention), keys wait 30 days', () => {
    expect(lifecycleOf(testConfig({ profile: 'production' }))).toEqual({
      removalPolicy: RemovalPolicy.RETAIN,
      logs: { retentionDays: 2192, removalPolicy: RemovalPolicy.RETAIN },
      keys: { removalPolicy: RemovalPolicy.RETAIN, pendingWindowDays: 30 },
    });
  });

  test('the removal policy follows destroyOnRemoval, not the profile name', () => {
    const dev = testConfig({ profile: 'development' });
    expect(removalPolicyFor({ ...dev, destroyOnRemoval: false })).toBe(RemovalPolicy.RETAIN);
    expect(removalPolicyFor({ ...testConfig({ profile: 'production' }), destroyOnRemoval: true })).toBe(RemovalPolicy.DESTROY);
  });
});
