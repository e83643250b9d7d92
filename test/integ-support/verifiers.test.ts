import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { EcsVerifier } from '../integ/verifiers';

const outputs = {
  EnvironmentSuffix: 'dev',
  AwsRegion: 'eu-west-2',
  StreamName: 's',
  ProcessorClusterName: 'hipaa-fhir-cluster-dev',
  ProcessorTaskDefinitionArn: 'arn:aws:ecs:eu-west-2:123456789012:task-definition/p:3',
  WorkloadSubnetIds: 'subnet-a,subnet-b',
  WorkloadSecurityGroupId: 'sg-1',
  ProcessorLogGroupName: '/hipaa-fhir/dev/processor',
};
const taskArn = 'arn:aws:ecs:eu-west-2:123456789012:task/hipaa-fhir-cluster-dev/0123456789abcdef';
const summary = { runId: 'integ-abc', history: 200, current: 200, quarantined: { NOT_JSON: 2 }, audit: { written: 200 }, duplicates: 0 };

describe('EcsVerifier (AWS path, mocked SDK)', () => {
  const ecs = mockClient(ECSClient);
  const logs = mockClient(CloudWatchLogsClient);
  beforeEach(() => {
    ecs.reset();
    logs.reset();
  });

  const verifier = () =>
    new EcsVerifier(outputs, new ECSClient({ region: 'eu-west-2' }), new CloudWatchLogsClient({ region: 'eu-west-2' }), 60);

  test('runs the processor task definition once with the verify command in the workload subnets and reads its summary', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs
      .on(DescribeTasksCommand)
      .resolves({ tasks: [{ taskArn, lastStatus: 'STOPPED', containers: [{ name: 'processor', exitCode: 0 }] }] });
    logs
      .on(GetLogEventsCommand)
      .resolves({ events: [{ message: '{"level":"info","msg":"x"}' }, { message: JSON.stringify({ verify: summary }) }] });

    await expect(verifier().verify('integ-abc')).resolves.toEqual(summary);
    const run = ecs.commandCalls(RunTaskCommand)[0].args[0].input;
    expect(run).toMatchObject({
      cluster: 'hipaa-fhir-cluster-dev',
      taskDefinition: outputs.ProcessorTaskDefinitionArn,
      launchType: 'FARGATE',
      count: 1,
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
      },
      overrides: {
        containerOverrides: [{ name: 'processor', command: ['node', 'dist/processor/tasks/verify/main.js', '--run-id', 'integ-abc'] }],
      },
    });
    expect(logs.commandCalls(GetLogEventsCommand)[0].args[0].input).toMatchObject({
      logGroupName: '/hipaa-fhir/dev/processor',
      logStreamName: 'processor/processor/0123456789abcdef',
    });
  });

  test('a task that could not start, or failed, is an error with the reason', async () => {
    ecs.on(RunTaskCommand).resolvesOnce({ tasks: [], failures: [{ reason: 'RESOURCE:ENI' }] });
    await expect(verifier().verify('integ-abc')).rejects.toThrow(/did not start.*RESOURCE:ENI/);
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        { taskArn, lastStatus: 'STOPPED', stoppedReason: 'Essential container exited', containers: [{ name: 'processor', exitCode: 1 }] },
      ],
    });
    await expect(verifier().verify('integ-abc')).rejects.toThrow('verify task exited with 1: Essential container exited');
  });
});
