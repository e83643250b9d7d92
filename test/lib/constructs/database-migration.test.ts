import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'fs';
import { CfnElement } from 'aws-cdk-lib';
import { DatabaseMigration, MIGRATION_TRIGGER_HANDLER_FILE } from '../../../lib/constructs/database-migration';
import * as oneOffTask from '../../../lib/constructs/handlers/one-off-task';
import { WORKLOAD_SUBNETS } from '../../../lib/constructs/isolated-network';
import { getAtt, logicalIdOf, statementsOfRole, testStack, testVpc } from '../../helpers';

const SECRET_KEY_ARN = 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';

function build(withSecretKey: boolean) {
  const stack = testStack();
  const vpc = testVpc(stack);
  const securityGroup = new ec2.SecurityGroup(stack, 'WorkloadSecurityGroup', { vpc, allowAllOutbound: false });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, clusterName: 'hipaa-fhir-cluster-dev' });
  const database = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Database', {
    instanceIdentifier: 'hipaa-fhir-db-dev',
    instanceEndpointAddress: 'db.internal',
    port: 5432,
    securityGroups: [],
  });
  const masterSecret = secretsmanager.Secret.fromSecretNameV2(stack, 'MasterSecret', 'hipaa-fhir/dev/db-credentials');
  const logGroup = new logs.LogGroup(stack, 'ProcessorLogs');
  const hookLogGroup = new logs.LogGroup(stack, 'DeployHookLogs');
  // Stands in for the processor service: it must wait for the migrations.
  const service = new sns.Topic(stack, 'Service');
  const migration = new DatabaseMigration(stack, 'Migration', {
    cluster,
    subnets: { subnetGroupName: WORKLOAD_SUBNETS },
    securityGroup,
    image: ecs.ContainerImage.fromRegistry('example/processor:test'),
    family: 'hipaa-fhir-migrate-dev',
    roleNames: { task: 'hipaa-fhir-migrate-task-dev', execution: 'hipaa-fhir-migrate-exec-dev' },
    database: { instance: database, name: 'fhir' },
    masterSecret,
    masterSecretKey: withSecretKey ? kms.Key.fromKeyArn(stack, 'SecretKey', SECRET_KEY_ARN) : undefined,
    region: 'eu-west-2',
    logGroup,
    hookLogGroup,
    before: [service],
  });
  return { migration, cluster, securityGroup, logGroup, hookLogGroup, service, template: Template.fromStack(stack) };
}

const secretArn = (suffix: string) => ({
  'Fn::Join': ['', ['arn:aws:secretsmanager:eu-west-2:', { Ref: 'AWS::AccountId' }, `:secret:hipaa-fhir/dev/db-credentials${suffix}`]],
});

// The infrastructure half: the one-off task with the master credentials, started by a Trigger before the service.
describe('DatabaseMigration', () => {
  const built = build(false);
  const { template, migration } = built;
  const withKey = build(true);
  const taskDefinition = () =>
    Object.values(template.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: 'hipaa-fhir-migrate-dev' } }))[0];

  test("the task runs the image's migrate entry point, hardened, with the master credentials as ECS secrets", () => {
    const { Properties: task } = taskDefinition();
    expect(task).toMatchObject({ RequiresCompatibilities: ['FARGATE'], NetworkMode: 'awsvpc', Cpu: '256', Memory: '512' });
    expect(task.ContainerDefinitions).toEqual([
      expect.objectContaining({
        Name: 'migrate',
        Command: ['node', 'dist/processor/tasks/migrate/main.js'],
        ReadonlyRootFilesystem: true,
        User: '1000',
        Essential: true,
        Image: 'example/processor:test',
        Environment: [
          { Name: 'AWS_REGION', Value: 'eu-west-2' },
          { Name: 'DB_HOST', Value: 'db.internal' },
          { Name: 'DB_PORT', Value: '5432' },
          { Name: 'DB_NAME', Value: 'fhir' },
          { Name: 'DB_SSL_MODE', Value: 'verify-full' },
        ],
        Secrets: [
          { Name: 'DB_USER', ValueFrom: secretArn(':username::') },
          { Name: 'DB_PASSWORD', ValueFrom: secretArn(':password::') },
        ],
        LogConfiguration: {
          LogDriver: 'awslogs',
          Options: {
            'awslogs-group': { Ref: logicalIdOf(built.logGroup) },
            'awslogs-stream-prefix': 'migrate',
            'awslogs-region': 'eu-west-2',
            mode: 'non-blocking',
          },
        },
      }),
    ]);
  });

  test("only the task's execution role reads the master secret; the task role has no AWS permissions", () => {
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'hipaa-fhir-migrate-task-dev' });
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'hipaa-fhir-migrate-exec-dev' });
    expect(statementsOfRole(template, migration.taskDefinition.taskRole)).toEqual([]);
    expect(statementsOfRole(template, migration.taskDefinition.obtainExecutionRole())).toContainEqual({
      Effect: 'Allow',
      Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      Resource: secretArn('-??????'),
    });
    const readers = template.findResources('AWS::IAM::Policy', {
      Properties: {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['secretsmanager:GetSecretValue']) })]) },
      },
    });
    expect(Object.values(readers).map((p) => p.Properties.Roles)).toEqual([
      [{ Ref: logicalIdOf(migration.taskDefinition.obtainExecutionRole()) }],
    ]);
  });

  // Issue 8, defect 2: a CMK-encrypted master secret needs its key on the role that reads it.
  test('a CMK-encrypted secret: the execution role may decrypt with exactly that key; with the AWS managed key, no KMS permission at all', () => {
    expect(statementsOfRole(withKey.template, withKey.migration.taskDefinition.obtainExecutionRole())).toContainEqual({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: SECRET_KEY_ARN,
    });
    withKey.template.resourcePropertiesCountIs(
      'AWS::IAM::Policy',
      { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Resource: SECRET_KEY_ARN })]) } },
      1,
    );
    template.resourcePropertiesCountIs(
      'AWS::IAM::Policy',
      { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.stringLikeRegexp('^kms:') })]) } },
      0,
    );
  });

  test('a Trigger runs the task after the task definition exists and before the given constructs are created or updated', () => {
    const triggers = template.findResources('Custom::Trigger');
    expect(Object.keys(triggers)).toHaveLength(1);
    const [triggerId, trigger] = Object.entries(triggers)[0];
    // After the task definition, and after the policy that lets the function run it (so it is never denied).
    const policyId = logicalIdOf(migration.trigger.role!.node.findChild('DefaultPolicy').node.defaultChild as CfnElement);
    expect([...trigger.DependsOn].sort()).toEqual([logicalIdOf(migration.taskDefinition), policyId].sort());
    expect(trigger.Properties).toMatchObject({
      HandlerArn: { Ref: expect.stringMatching(/^MigrationRunCurrentVersion/) },
      ExecuteOnHandlerChange: true,
      InvocationType: 'RequestResponse',
    });
    template.hasResource('AWS::SNS::Topic', { DependsOn: Match.arrayWith([triggerId]) });
  });

  test('the trigger function starts exactly this task definition on this cluster, in the given subnets and group, and logs into the hook group', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Timeout: 840,
      Description: 'Runs the hipaa-fhir-migrate-dev migration task once and waits for it to exit 0',
      Environment: {
        Variables: {
          CLUSTER: getAtt(built.cluster),
          // The task definition ARN changes with each new image or setting: the trigger runs again.
          TASK_DEFINITION: { Ref: logicalIdOf(migration.taskDefinition) },
          SUBNETS: {
            'Fn::Join': [
              '',
              [
                { Ref: Match.stringLikeRegexp('^VpcworkloadSubnet1Subnet') },
                ',',
                { Ref: Match.stringLikeRegexp('^VpcworkloadSubnet2Subnet') },
              ],
            ],
          },
          SECURITY_GROUP: getAtt(built.securityGroup, 'GroupId'),
        },
      },
      LoggingConfig: { LogGroup: { Ref: logicalIdOf(built.hookLogGroup) } },
    });
  });

  test('least privilege: the trigger runs any revision of the named family on this cluster only, watches its tasks, passes the two migration roles', () => {
    expect(statementsOfRole(template, migration.trigger.role!)).toEqual([
      {
        Sid: 'RunMigrationTask',
        Effect: 'Allow',
        Action: 'ecs:RunTask',
        Resource: { 'Fn::Join': ['', ['arn:aws:ecs:eu-west-2:', { Ref: 'AWS::AccountId' }, ':task-definition/hipaa-fhir-migrate-dev:*']] },
        Condition: { ArnEquals: { 'ecs:cluster': getAtt(built.cluster) } },
      },
      {
        Sid: 'WatchMigrationTask',
        Effect: 'Allow',
        Action: 'ecs:DescribeTasks',
        Resource: {
          'Fn::Join': ['', ['arn:aws:ecs:eu-west-2:', { Ref: 'AWS::AccountId' }, ':task/', { Ref: logicalIdOf(built.cluster) }, '/*']],
        },
      },
      {
        Sid: 'PassMigrationRoles',
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: [getAtt(migration.taskDefinition.obtainExecutionRole()), getAtt(migration.taskDefinition.taskRole)],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
    ]);
  });

  describe("the trigger's handler (runs in Lambda)", () => {
    const ecsMock = mockClient(ECSClient);
    test('the deployed code is the handler file these tests import, as it is', () => {
      const code = (
        Object.values(
          template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('migration task') } }),
        )[0].Properties.Code as { ZipFile: string }
      ).ZipFile;
      expect(code).toBe(readFileSync(MIGRATION_TRIGGER_HANDLER_FILE, 'utf8'));
      expect(MIGRATION_TRIGGER_HANDLER_FILE).toBe(require.resolve('../../../lib/constructs/handlers/one-off-task'));
    });
    const env = {
      CLUSTER: 'arn:aws:ecs:eu-west-2:123456789012:cluster/c',
      TASK_DEFINITION: 'arn:aws:ecs:eu-west-2:123456789012:task-definition/hipaa-fhir-migrate-dev:3',
      SUBNETS: 'subnet-1,subnet-2',
      SECURITY_GROUP: 'sg-1',
    };
    const taskArn = 'arn:aws:ecs:eu-west-2:123456789012:task/c/abc';
    let saved: NodeJS.ProcessEnv;
    beforeEach(() => {
      ecsMock.reset();
      jest.useFakeTimers();
      saved = process.env;
      process.env = { ...process.env, ...env };
    });
    afterEach(() => {
      process.env = saved;
      jest.useRealTimers();
    });

    // The very file the function runs, with the SDK it requires mocked.
    const handler = () => oneOffTask.handler;
    const stopped = (exitCode: number | undefined, stoppedReason?: string) => ({
      tasks: [{ taskArn, lastStatus: 'STOPPED', stoppedReason, containers: [{ name: 'migrate', exitCode }] }],
    });

    /** Runs the handler, advancing the fake clock by one poll interval each time it asked for the task's state. */
    async function run(context?: { getRemainingTimeInMillis(): number }): Promise<{ result?: unknown; error?: Error }> {
      let settled: { result?: unknown; error?: Error } | undefined;
      handler()(undefined, context).then(
        (result) => {
          settled = { result };
        },
        (error: Error) => {
          settled = { error };
        },
      );
      for (let polls = 0; !settled && polls < 10; polls++) await jest.advanceTimersByTimeAsync(10_000);
      if (!settled) throw new Error('the handler did not finish within 10 polls');
      return settled;
    }

    test('starts the one task in the given subnets and group, waits while it runs, and succeeds when it exits 0', async () => {
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
      ecsMock
        .on(DescribeTasksCommand)
        .resolvesOnce({ tasks: [{ taskArn, lastStatus: 'RUNNING' }] })
        .resolves(stopped(0));
      await expect(run()).resolves.toEqual({ result: { task: taskArn } });
      expect(ecsMock.commandCalls(RunTaskCommand).map((c) => c.args[0].input)).toEqual([
        {
          cluster: env.CLUSTER,
          taskDefinition: env.TASK_DEFINITION,
          launchType: 'FARGATE',
          count: 1,
          startedBy: 'migrate-trigger',
          networkConfiguration: {
            awsvpcConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
          },
        },
      ]);
      // It really waited through the running state: two polls.
      expect(ecsMock.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input)).toEqual([
        { cluster: env.CLUSTER, tasks: [taskArn] },
        { cluster: env.CLUSTER, tasks: [taskArn] },
      ]);
    });

    test('fails the deployment when the migration exits non-zero, naming the task and the exit code', async () => {
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
      ecsMock.on(DescribeTasksCommand).resolves(stopped(1, 'Essential container in task exited'));
      const { error } = await run();
      expect(error?.message).toBe(`migration task ${taskArn} failed: exit 1 Essential container in task exited`);
    });

    test("a task that does not stop in time fails the deployment with its log stream named, before Lambda's own timeout", async () => {
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
      ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn, lastStatus: 'RUNNING' }] });
      // Lambda's clock: 60 s left at the start, counting down with the fake timers.
      const deadline = Date.now() + 60_000;
      const { error } = await run({ getRemainingTimeInMillis: () => deadline - Date.now() });
      expect(error?.message).toBe(
        `migration task ${taskArn} has not stopped before the deployment hook ran out of time; it may still be running: read its log stream migrate/migrate/abc, then deploy again`,
      );
      // It polled while there was time: with 60, 50, 40, 30 and 20 s left (10 s apart), and gave up below 30 s.
      expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(5);
    });

    test('fails at once when the task does not start', async () => {
      ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI' }] });
      const { error } = await run();
      expect(error?.message).toBe('the migration task did not start: RESOURCE:ENI');
      expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(0);
    });
  });
});
