import { checkOperator, ecsTaskArn, operatorActor } from '../../../../lib/processor/tasks/operator';

describe('the operator a one-off task records', () => {
  test('an IAM caller ARN is accepted; anything else is a usage error naming the flag and where the value comes from', () => {
    for (const arn of ['arn:aws:sts::222222222222:assumed-role/operations/alice', 'arn:aws:iam::222222222222:user/bob'])
      expect(checkOperator(arn)).toBe(arn);
    expect(() => checkOperator('alice@laptop')).toThrow(
      '--operator "alice@laptop" is not an IAM caller ARN: pass the Arn of aws sts get-caller-identity (the npm run commands pass it)',
    );
  });

  test('the actor names the operator and the ECS task (for the RunTask event in CloudTrail), or the worker id without an operator', () => {
    const task = 'arn:aws:ecs:eu-west-2:222222222222:task/hipaa-fhir-cluster-dev/0123456789abcdef';
    expect(operatorActor('redrive', 'arn:aws:sts::222222222222:assumed-role/operations/alice', task, 'ip-10-0-0-1-7')).toBe(
      `arn:aws:sts::222222222222:assumed-role/operations/alice via ${task}/redrive`,
    );
    expect(operatorActor('verify', undefined, undefined, 'laptop-42')).toBe('laptop-42/verify');
  });

  test('the task ARN comes from the ECS metadata endpoint; outside ECS, or when it fails, there is none', async () => {
    const task = 'arn:aws:ecs:eu-west-2:222222222222:task/c/1';
    const fetcher = (async (url: string) => {
      expect(url).toBe('http://169.254.170.2/v4/abc/task');
      return new Response(JSON.stringify({ TaskARN: task }));
    }) as unknown as typeof fetch;
    expect(await ecsTaskArn({ ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc' }, fetcher)).toBe(task);
    expect(await ecsTaskArn({}, fetcher)).toBeUndefined();
    const failing = (async () => {
      throw new Error('connect ECONNREFUSED');
    }) as unknown as typeof fetch;
    expect(await ecsTaskArn({ ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc' }, failing)).toBeUndefined();
  });
});
