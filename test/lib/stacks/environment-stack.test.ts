import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { Layer, LAYER_INFO } from '../../../lib/contract';
import { EnvironmentStack, EnvironmentStackProps } from '../../../lib/stacks/environment-stack';
import { constructTestApp, testConfig } from '../../helpers';

/** A layer stack with one taggable resource and one output of its layer. */
class DataLayer extends EnvironmentStack<'data'> {
  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, 'data', props);
    new sns.Topic(this, 'Topic');
    this.output('StreamName', 'hipaa-fhir-records-env', 'the stream');
  }
}
class AuditLayer extends EnvironmentStack<'audit'> {
  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, 'audit', props);
    new sns.Topic(this, 'Topic');
    this.output('TrailMode', 'shared');
  }
}

describe('EnvironmentStack (the base of every layer stack)', () => {
  const dev = testConfig({ environmentSuffix: 'env', profile: 'development' });
  const prod = testConfig({ environmentSuffix: 'env', profile: 'production' });
  const app = constructTestApp();
  const data = new DataLayer(app, 'Data', { config: dev, tags: { CostCentre: 'records' } });
  const audit = new AuditLayer(app, 'Audit', { config: dev });
  const prodData = new DataLayer(app, 'ProdData', { config: prod });

  test('named <project>-<layer>-<suffix>, described by its layer, environment and profile', () => {
    expect([data.stackName, audit.stackName]).toEqual([dev.naming.stackName('data'), dev.naming.stackName('audit')]);
    expect(data.stackName).toBe('hipaa-fhir-data-env');
    expect(data.templateOptions.description).toBe(`${LAYER_INFO.data.description} (hipaa-fhir, environment env, development profile)`);
    expect(prodData.templateOptions.description).toBe(`${LAYER_INFO.data.description} (hipaa-fhir, environment env, production profile)`);
    expect([data.layer, audit.layer]).toEqual<Layer[]>(['data', 'audit']);
  });

  test('termination protection in production only', () => {
    expect(prodData.terminationProtection).toBe(true);
    expect(data.terminationProtection).toBe(false);
  });

  test("stack tags: the environment's, DataClassification=PHI on PHI layers only, and the caller's", () => {
    expect(LAYER_INFO.data.phi).toBe(true);
    expect(LAYER_INFO.audit.phi).toBe(false);
    expect(data.tags.tagValues()).toEqual({ ...dev.tags, DataClassification: 'PHI', CostCentre: 'records' });
    expect(audit.tags.tagValues()).toEqual({ ...dev.tags });
    expect(dev.tags).toMatchObject({ Project: 'hipaa-fhir', EnvironmentSuffix: 'env', Profile: 'development', Compliance: 'HIPAA' });
  });

  test('the same tags on every taggable resource, in the template itself', () => {
    const expected = Object.entries({ ...dev.tags, DataClassification: 'PHI', CostCentre: 'records' })
      .map(([Key, Value]) => ({ Key, Value }))
      .sort((a, b) => a.Key.localeCompare(b.Key));
    Template.fromStack(data).hasResourceProperties('AWS::SNS::Topic', { Tags: expected });
    Template.fromStack(audit).hasResourceProperties('AWS::SNS::Topic', {
      Tags: Object.entries(dev.tags)
        .map(([Key, Value]) => ({ Key, Value }))
        .sort((a, b) => a.Key.localeCompare(b.Key)),
    });
  });

  test('availability zones are the configured ones, so synth looks nothing up', () => {
    expect(data.availabilityZones).toEqual([...dev.network.availabilityZones]);
    expect(data.availabilityZones).toEqual(['eu-west-2a', 'eu-west-2b']);
  });

  test("outputs are keyed by the contract's output names, with their descriptions", () => {
    Template.fromStack(data).hasOutput('StreamName', { Value: 'hipaa-fhir-records-env', Description: 'the stream' });
    // Without a description, none is written.
    expect(Template.fromStack(audit).findOutputs('*')).toEqual({ TrailMode: { Value: 'shared' } });
  });
});
