import { CfnResource, Stack, TagManager } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { LAYERS } from '../../lib/contract';
import { resourceTypes, SynthesizedStage, synthStage } from '../helpers';

/** Properties that hold a physical name we chose (so it must carry the suffix). */
const NAME_PROPERTIES = [
  'LogGroupName',
  'Name',
  'DBInstanceIdentifier',
  'TopicName',
  'TrailName',
  'AliasName',
  'BackupVaultName',
  'StreamName',
];

/** Every resource of a template, by logical id, found type by type. */
function allResources(
  template: Template,
): Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }> {
  return Object.assign({}, ...resourceTypes(template).map((type) => template.findResources(type)));
}

/** The deletion policies (absent = Delete) of every resource of a type, over all stacks of a stage. */
function deletionPolicies({ templates }: SynthesizedStage, type: string): Set<string> {
  return new Set(Object.values(templates).flatMap((t) => Object.values(t.findResources(type)).map((r) => r.DeletionPolicy ?? 'Delete')));
}

/** Every Fn::ImportValue (strong) and Fn::GetStackOutput (weak) reference in a template's resources and outputs. */
function crossStackReferences(template: Template): { imports: string[]; weak: string[] } {
  const imports: string[] = [];
  const weak: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (!value || typeof value !== 'object') return;
    const v = value as Record<string, unknown>;
    if (typeof v['Fn::ImportValue'] === 'string') imports.push(v['Fn::ImportValue']);
    const output = v['Fn::GetStackOutput'] as { OutputName?: string } | undefined;
    if (output && typeof output.OutputName === 'string') weak.push(output.OutputName);
    Object.values(v).forEach(walk);
  };
  walk(allResources(template));
  walk(template.findOutputs('*'));
  return { imports, weak };
}

describe('PipelineAppStage', () => {
  const eph = synthStage({ environmentSuffix: 'pr-42', profile: 'development' });
  const ephDedicated = synthStage({ environmentSuffix: 'pr-43', profile: 'development', trailMode: 'dedicated' });
  const prod = synthStage({ environmentSuffix: 'prod', profile: 'production' });

  test('holds network, data, audit and compute stacks named <project>-<layer>-<suffix>, in dependency order', () => {
    expect(eph.stacks.map((s) => s.stackName)).toEqual([
      'hipaa-fhir-network-pr-42',
      'hipaa-fhir-data-pr-42',
      'hipaa-fhir-audit-pr-42',
      'hipaa-fhir-compute-pr-42',
    ]);
    expect(eph.stacks.map((s) => s.stackName)).toEqual(eph.stage.config.naming.stackNames);
    expect(eph.stacks.map((s) => s.layer)).toEqual([...LAYERS]);
    expect(eph.stage.data.dependencies).toContain(eph.stage.network);
    expect(eph.stage.audit.dependencies).toContain(eph.stage.data);
    expect(eph.stage.compute.dependencies).toEqual(expect.arrayContaining([eph.stage.network, eph.stage.data, eph.stage.audit]));
    for (const stack of eph.stacks) expect(stack.region).toBe('eu-west-2');
    // Stack tags (explicit): CloudFormation copies them to resources; tooling finds environments by them.
    for (const stack of eph.stacks) {
      expect(stack.tags.tagValues()).toMatchObject({
        Project: 'hipaa-fhir',
        EnvironmentSuffix: 'pr-42',
        Profile: 'development',
        Compliance: 'HIPAA',
      });
    }
    expect(eph.stage.data.tags.tagValues().DataClassification).toBe('PHI');
    expect(eph.stage.network.tags.tagValues().DataClassification).toBeUndefined();
  });

  test('every physical name we set carries the suffix', () => {
    for (const { stacks, templates } of [eph, ephDedicated, prod]) {
      const suffix = stacks[0].stackName.split('-network-')[1];
      let checked = 0;
      for (const template of Object.values(templates)) {
        for (const [id, resource] of Object.entries(allResources(template))) {
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
        { Key: 'Compliance', Value: 'HIPAA' },
        { Key: 'DataClassification', Value: 'PHI' },
        { Key: 'EnvironmentSuffix', Value: 'pr-42' },
        { Key: 'Profile', Value: 'development' },
        { Key: 'Project', Value: 'hipaa-fhir' },
      ],
    });
  });

  test('preview: nothing is retained or snapshotted, in either trail mode', () => {
    for (const { templates } of [eph, ephDedicated]) {
      for (const template of Object.values(templates)) {
        for (const type of resourceTypes(template)) {
          // (An absent policy is Delete.)
          expect([type, Object.keys(template.findResources(type, { DeletionPolicy: Match.not('Delete') }))]).toEqual([type, []]);
          expect([type, Object.keys(template.findResources(type, { UpdateReplacePolicy: Match.not('Delete') }))]).toEqual([type, []]);
        }
      }
    }
    // The audit archive's buckets, and a dedicated trail's, are emptied so the stack deletes cleanly.
    eph.templates.audit.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    ephDedicated.templates.audit.resourceCountIs('Custom::S3AutoDeleteObjects', 4);
    for (const stack of eph.stacks) expect(stack.terminationProtection).toBe(false);
  });

  test('ephemeral keys are scheduled for deletion after the shortest window', () => {
    for (const template of Object.values(eph.templates)) template.allResourcesProperties('AWS::KMS::Key', { PendingWindowInDays: 7 });
  });

  test('production: logs, keys and audit buckets are retained, the database snapshots, stacks are protected', () => {
    expect(deletionPolicies(prod, 'AWS::Logs::LogGroup')).toEqual(new Set(['Retain']));
    expect(deletionPolicies(prod, 'AWS::KMS::Key')).toEqual(new Set(['Retain']));
    expect(deletionPolicies(prod, 'AWS::S3::Bucket')).toEqual(new Set(['Retain']));
    expect(deletionPolicies(prod, 'AWS::Kinesis::Stream')).toEqual(new Set(['Retain']));
    expect(deletionPolicies(prod, 'AWS::RDS::DBInstance')).toEqual(new Set(['Snapshot']));
    prod.templates.audit.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    for (const stack of prod.stacks) expect(stack.terminationProtection).toBe(true);
  });

  test('every log group and data store is encrypted with a customer managed key of its own stack', () => {
    for (const { templates } of [eph, ephDedicated, prod]) {
      for (const template of Object.values(templates)) {
        const keys = Object.keys(template.findResources('AWS::KMS::Key'));
        const cmk = Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^(${keys.join('|')})$`), 'Arn'] });
        const check = (type: string, props: Record<string, unknown>, except: (id: string) => boolean = () => false) => {
          const all = Object.keys(template.findResources(type)).filter((id) => !except(id));
          const encrypted = Object.keys(template.findResources(type, { Properties: props }));
          expect([type, all.filter((id) => !encrypted.includes(id))]).toEqual([type, []]);
        };
        check('AWS::Logs::LogGroup', { KmsKeyId: cmk });
        check('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS', KeyId: cmk } });
        check('AWS::RDS::DBInstance', { StorageEncrypted: true, KmsKeyId: cmk });
        check('AWS::SNS::Topic', { KmsMasterKeyId: cmk });
        // S3 server access log delivery supports SSE-S3 only: the trail's and the audit archive's access-log buckets are the exceptions.
        check(
          'AWS::S3::Bucket',
          {
            BucketEncryption: {
              ServerSideEncryptionConfiguration: [
                Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: cmk } }),
              ],
            },
          },
          (id) => id.startsWith('TrailAccessLogsBucket') || id.startsWith('AuditArchiveAccessLogsBucket'),
        );
      }
    }
  });

  test('output keys are unique across the stacks and exposed by the stage', () => {
    const keys = eph.stacks.flatMap((stack) => Object.keys(eph.templates[stack.layer].findOutputs('*')));
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of [
      'VpcId',
      'StreamName',
      'StreamArn',
      'DatabaseEndpointAddress',
      'DatabaseEndpointPort',
      'DatabaseSecretArn',
      'StreamKeyArn',
      'DatabaseKeyArn',
      'AuditKeyArn',
      'ApplicationAuditLogGroupName',
      'FlowLogGroupName',
      'EnvironmentSuffix',
      'ProcessorClusterName',
      'ProcessorServiceName',
      'ProcessorLogGroupName',
    ]) {
      expect(keys).toContain(key);
      expect(eph.stage.outputs[key]).toBeDefined();
    }
  });

  // Issue 8, defect 9: Fn::GetStackOutput is read only when the consumer deploys, so a replaced
  // producer value would go stale; such values are imported strongly (see reference-strength.ts).
  test('AWS-generated ids that a replacement can change are strong references; only our own fixed names stay weak', () => {
    const compute = crossStackReferences(eph.templates.compute);
    const data = crossStackReferences(eph.templates.data);
    const imported = [...compute.imports, ...data.imports].join(' ');
    for (const id of ['Subnet', 'SecurityGroup', 'DbiResourceId', 'EndpointAddress', 'StreamKey']) expect(imported).toContain(id);
    expect(compute.weak.length + data.weak.length).toBeGreaterThan(0);
    for (const name of [...compute.weak, ...data.weak]) {
      expect([name, /Subnet|SecurityGroup|Vpc|Key|Endpoint|DbiResourceId/.test(name)]).toEqual([name, false]);
    }
  });
});
