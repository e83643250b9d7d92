import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

/**
 * The operator's IAM identity (sts:GetCallerIdentity, which needs no permission), passed to a one-off
 * task as `--operator` so its audit events name who asked. lib/processor/tasks/operator.ts has the trust model.
 */
export async function callerArn(region: string, sts: STSClient = new STSClient({ region })): Promise<string> {
  try {
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
    if (!Arn) throw new Error('sts:GetCallerIdentity returned no Arn');
    return Arn;
  } finally {
    sts.destroy();
  }
}
