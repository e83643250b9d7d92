import { ConfigError, Naming } from '../../../lib/contract';
import { PREVIEW_SUFFIX_PREFIX, suffixFromBranch } from '../../../lib/contract';
import { rdsLogGroupName } from '../../../lib/constructs/patient-database';

describe('Naming', () => {
  const naming = new Naming('hipaa-fhir', 'abc-123');

  test('every name carries the project and the suffix', () => {
    const names = [
      naming.stackName('network'),
      naming.stackName('compute'),
      naming.resourceName('backup'),
      naming.dbInstanceIdentifier,
      naming.streamName,
      naming.logGroupName('audit/application'),
      naming.kmsAlias('stream'),
      naming.clusterName,
      naming.processorFamily,
      naming.processorRoleNames.task,
      naming.processorRoleNames.execution,
      naming.processorLogGroupName,
      naming.streamKeyAlias,
      rdsLogGroupName(naming.dbInstanceIdentifier, 'postgresql'),
      naming.trailName,
      naming.topicName('security-alarms'),
    ];
    for (const name of names) {
      expect(name).toContain('hipaa-fhir');
      expect(name).toContain('abc-123');
    }
    expect(naming.stackName('data')).toBe('hipaa-fhir-data-abc-123');
    expect(naming.dbInstanceIdentifier).toBe('hipaa-fhir-db-abc-123');
    expect(rdsLogGroupName(naming.dbInstanceIdentifier, 'upgrade')).toBe('/aws/rds/instance/hipaa-fhir-db-abc-123/upgrade');
  });

  test('the longest project and suffix still give a valid RDS identifier', () => {
    const longest = new Naming('p'.repeat(12), 's'.repeat(20));
    expect(longest.dbInstanceIdentifier.length).toBeLessThanOrEqual(63);
    expect(longest.dbInstanceIdentifier).toMatch(/^[a-z][a-z0-9-]*[a-z0-9]$/);
    expect(longest.dbInstanceIdentifier).not.toContain('--');
  });

  test('a name past its service limit is refused with the limit named', () => {
    expect(() => naming.resourceName('x'.repeat(60))).toThrow(/generic names allow 64/);
  });

  test('anyBranch builds IAM patterns that match per-branch names and never a long-lived one', () => {
    const any = Naming.anyPreview('hipaa-fhir');
    expect([
      any.streamName,
      any.clusterName,
      any.processorFamily,
      any.processorLogGroupName,
      any.streamKeyAlias,
      any.resourceName('post-deploy'),
    ]).toEqual([
      'hipaa-fhir-records-br-*',
      'hipaa-fhir-cluster-br-*',
      'hipaa-fhir-processor-br-*',
      '/hipaa-fhir/br-*/processor',
      'alias/hipaa-fhir/br-*/stream',
      'hipaa-fhir-post-deploy-br-*',
    ]);
    expect(Naming.ANY_PREVIEW).toBe(`${PREVIEW_SUFFIX_PREFIX}*`);
    const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*')}$`);
    for (const suffix of ['dev', 'prod', 'staging', 'qa-1', 'abr-x']) {
      const long = new Naming('hipaa-fhir', suffix);
      expect(glob(any.streamName).test(long.streamName)).toBe(false);
      expect(glob(any.processorLogGroupName).test(long.processorLogGroupName)).toBe(false);
      expect(glob(any.resourceName('post-deploy')).test(long.resourceName('post-deploy'))).toBe(false);
    }
    expect(glob(any.streamName).test(new Naming('hipaa-fhir', suffixFromBranch('feature/x')).streamName)).toBe(true);
    expect(() => new Naming('hipaa-fhir', '**')).toThrow(/environmentSuffix "\*\*" is invalid/);
  });

  test('invalid parts are refused at construction', () => {
    expect(() => new Naming('hipaa-fhir', 'UPPER')).toThrow(ConfigError);
    expect(() => new Naming('9lives', 'dev')).toThrow(/project "9lives" is invalid/);
  });

  test('the stream prefix is a prefix of every stream name of the project', () => {
    expect(naming.streamName.startsWith(Naming.streamNamePrefix('hipaa-fhir'))).toBe(true);
    // (from the shared trail's selector) any environment's stream, and a preview's.
    expect(new Naming('hipaa-fhir', 'abc-123').streamName.startsWith(Naming.streamNamePrefix('hipaa-fhir'))).toBe(true);
    expect(Naming.anyPreview('hipaa-fhir').streamName.startsWith(Naming.streamNamePrefix('hipaa-fhir'))).toBe(true);
    expect(new Naming('other', 'dev').streamName.startsWith(Naming.streamNamePrefix('hipaa-fhir'))).toBe(false);
  });
});
