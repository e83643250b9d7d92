import { App, CfnElement, CloudFormationValidatePlugin, PolicyValidationPluginReport, Stack, StackProps, Validations } from 'aws-cdk-lib';
import { Match, Matcher, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct, IConstruct } from 'constructs';
import { EnvironmentConfig, NO_STACK_TRACES, plannedEnvironments, RawEnvironment, resolveApp } from '../../lib/config';
import { Layer, LAYERS } from '../../lib/contract';
import { DATABASE_SUBNETS, WORKLOAD_SUBNETS } from '../../lib/constructs/isolated-network';
import { ProcessorMetrics } from '../../lib/constructs/processor-metrics';
import type { EnvironmentStack } from '../../lib/stacks/environment-stack';
import { PipelineAppStage } from '../../stages/pipeline-app-stage';

import { cdkJsonApp, cdkJsonContext } from '../../scripts/shared/cdk-app';

export { cdkJsonContext };

/** An App with the feature flags of cdk.json, as `cdk synth` builds it (without construct stack traces). */
export const testApp = cdkJsonApp;
/** When test configurations are resolved: a test preview expires 72 hours (previews.ttlHours) later. */
export const TEST_NOW = new Date('2026-11-28T09:00:00.000Z');

/** One test environment: its cdk.json entry, and where it lives. */
export interface TestEnvironment extends RawEnvironment {
  /** @default 'dev' */
  readonly environmentSuffix?: string;
  /** @default 'hipaa-fhir' */
  readonly project?: string;
  /** The preview environment of this branch (`-c branch=`), instead of a configured environment. */
  readonly branch?: string;
}

/**
 * The configuration of one environment, built as `cdk synth` builds it (resolveApp: the schema, its
 * defaults, the rules between settings) from a cdk.json with only that environment, in eu-west-2.
 */
export function testConfig(overrides: TestEnvironment = {}): EnvironmentConfig {
  const { environmentSuffix = 'dev', project = 'hipaa-fhir', branch, ...entry } = overrides;
  if (branch !== undefined && Object.keys(entry).length > 0) throw new Error('a test preview takes its settings from "previews"');
  const context = branch === undefined ? { project, environments: { [environmentSuffix]: entry } } : { project, branch };
  return plannedEnvironments(resolveApp(context, {}, TEST_NOW))[0];
}

export interface SynthesizedStage {
  readonly app: App;
  readonly stage: PipelineAppStage;
  readonly stacks: readonly EnvironmentStack<Layer>[];
  readonly templates: Readonly<Record<Layer, Template>>;
}

export function synthStage(overrides: TestEnvironment = {}): SynthesizedStage {
  const app = testApp();
  const config = testConfig(overrides);
  const stage = new PipelineAppStage(app, config.environmentSuffix, { config });
  return {
    app,
    stage,
    stacks: stage.stackList,
    templates: Object.fromEntries(LAYERS.map((layer) => [layer, Template.fromStack(stage.stacks[layer])])) as Record<Layer, Template>,
  };
}

/**
 * Registered in place of the CloudFormation template validation CDK runs on every synth (an App with a
 * CloudFormationValidatePlugin of its own gets no default one). aws-cdk-lib 2.271 has no App prop that
 * turns it off, only the process-wide CDK_VALIDATION=false, and the stage tests want it on.
 */
class ScaffoldNotValidated extends CloudFormationValidatePlugin {
  public override validate(): PolicyValidationPluginReport {
    return { success: true, violations: [] };
  }
}

/**
 * An App for a construct's own test: the feature flags of cdk.json, without the CloudFormation
 * template validation CDK runs on every synth. The stage and stack tests synthesize every real
 * template through testApp(), with that validation on; a construct test's scaffold stack is never
 * deployed (a bare RDS instance beside the construct under test, say), and would only add warnings.
 */
export function constructTestApp(): App {
  const app = new App({ context: { ...cdkJsonContext(), ...NO_STACK_TRACES } });
  Validations.of(app).addPlugins(new ScaffoldNotValidated());
  return app;
}

/**
 * A stack for a construct's own test, in eu-west-2 with the account left to deployment as in the
 * stages of testConfig() (so the account renders as `{ Ref: 'AWS::AccountId' }`), unless `props` say otherwise.
 */
export function testStack(props: StackProps = {}, id = 'Test'): Stack {
  return new Stack(constructTestApp(), id, { env: { region: 'eu-west-2' }, ...props });
}

/** The logical id of a construct's CloudFormation resource (an L2's default child, or the element itself). */
export function logicalIdOf(construct: IConstruct): string {
  const element = CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
  if (!element || !CfnElement.isCfnElement(element)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(element).getLogicalId(element);
}

/** `{ 'Fn::GetAtt': [<logical id of construct>, attribute] }`, e.g. a key's Arn. */
export function getAtt(construct: IConstruct, attribute = 'Arn'): { 'Fn::GetAtt': [string, string] } {
  return { 'Fn::GetAtt': [logicalIdOf(construct), attribute] };
}

export type PolicyStatementJson = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
};

/** The statements of every AWS::IAM::Policy attached to a role of the template, in template order. */
export function statementsOfRole(template: Template, role: IConstruct): PolicyStatementJson[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: logicalIdOf(role) }]) } });
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as PolicyStatementJson[]);
}

/** The resource types of a template (for invariants that hold for every resource of every type). */
export function resourceTypes(template: Template): string[] {
  return [...new Set(Object.values(template.toJSON().Resources ?? {}).map((r) => (r as { Type: string }).Type))].sort();
}

/** An isolated two-zone VPC with the workload and database subnet groups of IsolatedNetwork, for construct tests. */
export function testVpc(scope: Construct, id = 'Vpc'): ec2.Vpc {
  return new ec2.Vpc(scope, id, {
    availabilityZones: ['eu-west-2a', 'eu-west-2b'],
    natGateways: 0,
    createInternetGateway: false,
    restrictDefaultSecurityGroup: false,
    subnetConfiguration: [
      { name: WORKLOAD_SUBNETS, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      { name: DATABASE_SUBNETS, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ],
  });
}

/** A stream, cluster and Fargate service with their ProcessorMetrics, for the tests of what is built on them. */
export function processorMetricsFixture(scope: Construct, streamName = 'hipaa-fhir-records-dev') {
  const vpc = testVpc(scope);
  const stream = new kinesis.Stream(scope, 'Stream', { streamName });
  const cluster = new ecs.Cluster(scope, 'Cluster', { vpc, clusterName: 'hipaa-fhir-cluster-dev' });
  const taskDefinition = new ecs.FargateTaskDefinition(scope, 'Task');
  taskDefinition.addContainer('app', { image: ecs.ContainerImage.fromRegistry('example/processor:test') });
  // Circuit breaker and minimum healthy percent set as the real service sets them: CDK warns (on stderr, in every test's output) without them.
  const service = new ecs.FargateService(scope, 'Service', {
    cluster,
    taskDefinition,
    vpcSubnets: { subnetGroupName: WORKLOAD_SUBNETS },
    circuitBreaker: { rollback: true },
    minHealthyPercent: 100,
  });
  return { vpc, stream, cluster, service, metrics: new ProcessorMetrics({ stream, streamName, service, cluster }) };
}

export interface DashboardWidget {
  type: 'metric' | 'text' | 'alarm';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: {
    title?: string;
    markdown?: string;
    alarms?: string[];
    metrics?: Array<Array<string | Record<string, unknown>>>;
    stat?: string;
  };
}
export interface DashboardBody {
  widgets: DashboardWidget[];
  start?: string;
  periodOverride?: string;
}

/**
 * The body of the template's one CloudWatch dashboard as JSON, each CloudFormation reference in it
 * replaced by a marker: `<Id>` for `{ Ref: Id }`, `<Id.Attr>` for `{ 'Fn::GetAtt': [Id, Attr] }`, `<REF>` otherwise.
 */
export function dashboardBody(template: Template): DashboardBody {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  if (dashboards.length !== 1) throw new Error(`expected one dashboard, found ${dashboards.length}`);
  const body = dashboards[0].Properties.DashboardBody as string | { 'Fn::Join': [string, Array<string | Record<string, unknown>>] };
  const marker = (part: Record<string, unknown>) => {
    if (typeof part.Ref === 'string') return `<${part.Ref}>`;
    const getAtt = part['Fn::GetAtt'];
    return Array.isArray(getAtt) ? `<${getAtt.join('.')}>` : '<REF>';
  };
  const text =
    typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : marker(part))).join('');
  return JSON.parse(text) as DashboardBody;
}

/**
 * The key-policy statement that lets this region's CloudWatch Logs use a key for exactly these log groups
 * (EncryptionKey.forLogs), for `Match.arrayWith` over a key policy's statements.
 */
export function logsKeyStatement(logGroupArns: unknown[]): Matcher {
  return Match.objectLike({
    Sid: 'AllowCloudWatchLogsForNamedLogGroups',
    Principal: { Service: 'logs.eu-west-2.amazonaws.com' },
    Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logGroupArns } },
  });
}

/**
 * A bucket policy of this bucket that denies every request without TLS and every request with TLS older
 * than 1.2 (the ArtifactBucket and SecurityTrail buckets), for `hasResourceProperties('AWS::S3::BucketPolicy', ...)`.
 */
export function tlsOnlyBucketPolicy(bucket: IConstruct): Record<string, unknown> {
  const arn = getAtt(bucket);
  const resources = [arn, { 'Fn::Join': ['', [arn, '/*']] }];
  const deny = (condition: Record<string, unknown>) => ({
    Action: 's3:*',
    Condition: condition,
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Resource: resources,
  });
  return {
    Bucket: { Ref: logicalIdOf(bucket) },
    PolicyDocument: {
      Statement: Match.arrayWith([deny({ Bool: { 'aws:SecureTransport': 'false' } }), deny({ NumericLessThan: { 's3:TlsVersion': 1.2 } })]),
    },
  };
}
