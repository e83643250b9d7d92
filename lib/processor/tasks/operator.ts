/**
 * Who a one-off task acts for, as its audit events record it. The operator's command passes its own
 * identity (`--operator`, the ARN from its sts:GetCallerIdentity), and the task adds its own ECS task ARN.
 *
 * Trust model: `--operator` is what the caller says, not proof: anyone allowed ecs:RunTask with container
 * overrides on the task definition could pass any text. The task ARN is what binds it: CloudTrail records
 * the RunTask call that started this task (its caller's real identity and the overrides) under the same
 * task ARN, so an auditor checks the recorded operator against that event. Without ECS (the local stack),
 * the task ARN is absent and the operator is the local user.
 */
import { UsageError } from '../../contract/errors';

/** An IAM principal ARN as sts:GetCallerIdentity returns it (user, assumed role, root, federated user). */
const CALLER_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]{1,512}$/;

export function checkOperator(value: string): string {
  if (!CALLER_ARN.test(value))
    throw new UsageError(
      `--operator "${value.slice(0, 60)}" is not an IAM caller ARN: pass the Arn of aws sts get-caller-identity (the npm run commands pass it)`,
    );
  return value;
}

/** The task's own ARN from the ECS task metadata endpoint (version 4), or undefined outside ECS. */
export async function ecsTaskArn(env: NodeJS.ProcessEnv = process.env, fetcher: typeof fetch = fetch): Promise<string | undefined> {
  const base = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!base) return undefined;
  try {
    const response = await fetcher(`${base}/task`, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return undefined;
    const { TaskARN } = (await response.json()) as { TaskARN?: unknown };
    return typeof TaskARN === 'string' ? TaskARN : undefined;
  } catch {
    return undefined;
  }
}

/**
 * audit_event.actor of a task's own events: `<operator ARN> via <task ARN>/<task>`; a task started with no
 * operator (a schedule) is `<worker id>/<task>` with its task ARN.
 */
export function operatorActor(task: string, operator: string | undefined, taskArn: string | undefined, workerId: string): string {
  const who = operator ?? workerId;
  return `${who}${taskArn ? ` via ${taskArn}` : ''}/${task}`;
}
