import { CfnResource, Stack, TagManager } from 'aws-cdk-lib';
import { resourcesOf, synthStage } from '../helpers';

/** Properties that hold a physical name we chose (so it must carry the suffix). */
const NAME_PROPERTIES = ['LogGroupName', 'Name', 'DBInstanceIdentifier', 'TopicName', 'TrailName', 'AliasName', 'BackupVaultName', 'StreamName'];

describe('PipelineAppStage', () => {
  const eph = synthStage({ environmentSuffix: 'pr-42', profile: 'development' });
  const ephDedicated = synthStage({ environmentSuffix: 'pr-43', profile: 'development', trailMode: 'dedicated' });
  const prod = synthStage({ environmentSuffix: 'prod', profile: 'production' });

  test('holds network, data, audit and compute stacks named <project>-<layer>-<suffix>, in dependency order', () => {
    expect(eph.stacks.map((s) => s.stackName)).toEqual(['hipaa-fhir-network-pr-42', 'hipaa-fhir-data-pr-42', 'hipaa-fhir-audit-pr-42', 'hipaa-fhir-compute-pr-42']);
    expect(eph.stage.data.dependencies).toContain(eph.stage.network);
    expect(eph.stage.audit.dependencies).toContain(eph.stage.data);
    expect(eph.stage.compute.dependencies).toEqual(expect.arrayContaining([eph.stage.network, eph.stage.data, eph.stage.audit]));
    for (const stack of eph.stacks) expect(stack.region).toBe('eu-west-2');
    // Stack tags (explicit): CloudFormation copies them to resources; tooling finds environments by them.
    for (const stack of eph.stacks) {
      expect(stack.tags.tagValues()).toMatchObject({ Project: 'hipaa-fhir', EnvironmentSuffix: 'pr-42', Profile: 'development', Compliance: 'HIPAA' });
    }
    expect(eph.stage.data.tags.tagValues().DataClassification).toBe('PHI');
    expect(eph.stage.network.tags.tagValues().DataClassification).toBeUndefined();
  });

  test('every physical name we set carries the suffix', () => {
    for (const { stacks, templates } of [eph, ephDedicated, prod]) {
      const suffix = stacks[0].stackName.split('-network-')[1];
      let checked = 0;
      for (const template of Object.values(templates)) {
        for (const [id, resource] of resourcesOf(template)) {
          for (const prop of NAME_PROPERTIES) {
            const value = resource.Properties?.[prop];
            if (typeof value !== 'string') continue;
            checked++;
            expect(`${id}.${prop}=${value}`).toContain(suffix);
          }
        }
      }
      expect(checked).toBeGreaterThanOrEqual(10);
    }
  });

  test('every taggable resource carries Project, EnvironmentSuffix, Profile and Compliance; data also DataClassification=PHI', () => {
    let count = 0;
    for (const stack of eph.stacks) {
      const taggable = stack.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && TagManager.isTaggable(c));
      count += taggable.length;
      for (const resource of taggable) {
        const tags = (resource as unknown as { tags: TagManager }).tags.tagValues();
        expect({ path: resource.node.path, tags }).toEqual({
          path: resource.node.path,
          tags: expect.objectContaining({ Project: 'hipaa-fhir', EnvironmentSuffix: 'pr-42', Profile: 'development', Compliance: 'HIPAA' }),
        });
        if (Stack.of(resource) === eph.stage.data || Stack.of(resource) === eph.stage.compute) expect(tags.DataClassification).toBe('PHI');
      }
    }
    expect(count).toBeGreaterThan(20);
    // The rendered template carries them too.
    eph.templates.data.hasResourceProperties('AWS::Kinesis::Stream', {
      Tags: [
        { Key: 'Compliance', Value: 'HIPAA' }, { Key: 'DataClassification', Value: 'PHI' }, { Key: 'EnvironmentSuffix', Value: 'pr-42' },
        { Key: 'Profile', Value: 'development' }, { Key: 'Project', Value: 'hipaa-fhir' },
      ],
    });
  });

  test('preview: nothing is retained or snapshotted, in either trail mode', () => {
    for (const { templates } of [eph, ephDedicated]) {
      for (const template of Object.values(templates)) {
        for (const [id, resource] of resourcesOf(template)) {
          expect(`${id}:${resource.DeletionPolicy ?? 'Delete'}`).toBe(`${id}:Delete`);
          expect(`${id}:${resource.UpdateReplacePolicy ?? 'Delete'}`).toBe(`${id}:Delete`);
        }
      }
    }
    // A dedicated trail's buckets are emptied so the stack deletes cleanly.
    ephDedicated.templates.audit.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    for (const stack of eph.stacks) expect(stack.terminationProtection).toBe(false);
  });

  test('ephemeral keys are scheduled for deletion after the shortest window', () => {
    for (const template of Object.values(eph.templates)) {
      for (const [, r] of resourcesOf(template).filter(([, r]) => r.Type === 'AWS::KMS::Key')) {
        expect(r.Properties?.PendingWindowInDays).toBe(7);
      }
    }
  });

  test('production: logs, keys and audit buckets are retained, the database snapshots, stacks are protected', () => {
    const policies = new Map<string, Set<string>>();
    for (const template of Object.values(prod.templates)) {
      for (const [, r] of resourcesOf(template)) {
        if (!policies.has(r.Type)) policies.set(r.Type, new Set());
        policies.get(r.Type)!.add(r.DeletionPolicy ?? 'Delete');
      }
    }
    expect(policies.get('AWS::Logs::LogGroup')).toEqual(new Set(['Retain']));
    expect(policies.get('AWS::KMS::Key')).toEqual(new Set(['Retain']));
    expect(policies.get('AWS::S3::Bucket')).toEqual(new Set(['Retain']));
    expect(policies.get('AWS::Kinesis::Stream')).toEqual(new Set(['Retain']));
    expect(policies.get('AWS::RDS::DBInstance')).toEqual(new Set(['Snapshot']));
    prod.templates.audit.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    for (const stack of prod.stacks) expect(stack.terminationProtection).toBe(true);
  });

  test('every log group and data store is encrypted with a customer managed key', () => {
    for (const { templates } of [eph, ephDedicated, prod]) {
      for (const template of Object.values(templates)) {
        for (const [id, r] of resourcesOf(template)) {
          const p = r.Properties ?? {};
          if (r.Type === 'AWS::Logs::LogGroup') expect({ id, kms: p.KmsKeyId }).toEqual({ id, kms: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } });
          if (r.Type === 'AWS::Kinesis::Stream') expect(p.StreamEncryption).toEqual({ EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } });
          if (r.Type === 'AWS::RDS::DBInstance') expect(p.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
          if (r.Type === 'AWS::SNS::Topic') expect(p.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
          if (r.Type === 'AWS::S3::Bucket' && !id.startsWith('TrailAccessLogsBucket')) {
            expect(JSON.stringify(p.BucketEncryption)).toContain('aws:kms');
          }
        }
      }
    }
  });

  test('output keys are unique across the stacks and exposed by the stage', () => {
    const keys = eph.stacks.flatMap((stack) => Object.keys(eph.templates[stack.node.id.toLowerCase() as 'network'].toJSON().Outputs ?? {}));
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of ['VpcId', 'StreamName', 'StreamArn', 'DatabaseEndpointAddress', 'DatabaseEndpointPort', 'DatabaseSecretArn', 'StreamKeyArn', 'DatabaseKeyArn', 'AuditKeyArn', 'ApplicationAuditLogGroupName', 'FlowLogGroupName', 'EnvironmentSuffix', 'ProcessorClusterName', 'ProcessorServiceName', 'ProcessorLogGroupName']) {
      expect(keys).toContain(key);
      expect(eph.stage.outputs[key]).toBeDefined();
    }
  });

  // Issue 8, defect 9: Fn::GetStackOutput is read only when the consumer deploys, so a replaced
  // producer value would go stale; such values are imported strongly (see reference-strength.ts).
  test('AWS-generated ids that a replacement can change are strong references; only our own fixed names stay weak', () => {
    const refs = (template: { toJSON(): unknown }) => {
      const json = JSON.stringify(template.toJSON());
      return {
        imports: [...json.matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1]),
        weak: [...json.matchAll(/"Fn::GetStackOutput":\{[^}]*"OutputName":"([^"]+)"/g)].map((m) => m[1]),
      };
    };
    const compute = refs(eph.templates.compute);
    const data = refs(eph.templates.data);
    const imported = [...compute.imports, ...data.imports].join(' ');
    for (const id of ['Subnet', 'SecurityGroup', 'DbiResourceId', 'EndpointAddress', 'StreamKey']) expect(imported).toContain(id);
    for (const name of [...compute.weak, ...data.weak]) {
      expect([name, /Subnet|SecurityGroup|Vpc|Key|Endpoint|DbiResourceId/.test(name)]).toEqual([name, false]);
    }
  });
});
