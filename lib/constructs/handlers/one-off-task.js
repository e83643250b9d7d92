// @ts-check
/**
 * Runs a one-off ECS task and waits for it to stop: written once, for the migration trigger (this file is its
 * Lambda handler, deployed as it is with Code.fromInline; the Node.js runtime provides SDK v3) and for the
 * operator commands that run the processor's one-off tasks (re-drive, restore drill) and the integration
 * suite's verifier, which import startTask and untilStopped from here and follow the task's log themselves.
 * Plain CommonJS with types checked by tsc (// @ts-check): Lambda loads it without a build step.
 */
const { DescribeTasksCommand, ECSClient, RunTaskCommand } = require('@aws-sdk/client-ecs');

/**
 * @typedef {import('@aws-sdk/client-ecs').Task} Task
 * @typedef {import('@aws-sdk/client-ecs').TaskOverride} TaskOverride
 */

/**
 * Starts one Fargate task in the given subnets, with no public address.
 * @param {ECSClient} ecs
 * @param {{ cluster: string, taskDefinition: string, subnets: string[], securityGroups: string[], startedBy: string, overrides?: TaskOverride }} task
 * @param {string} what how errors name the task, e.g. "the migration task"
 * @returns {Promise<string>} the task's ARN
 */
async function startTask(ecs, { cluster, taskDefinition, subnets, securityGroups, startedBy, overrides }, what) {
  const run = await ecs.send(
    new RunTaskCommand({
      cluster,
      taskDefinition,
      launchType: 'FARGATE',
      count: 1,
      startedBy,
      networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups, assignPublicIp: 'DISABLED' } },
      ...(overrides ? { overrides } : {}),
    }),
  );
  const taskArn = run.tasks?.[0]?.taskArn;
  if (taskArn) return taskArn;
  const failures = (run.failures ?? []).map((f) => `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}`).join('; ');
  throw new Error(`${what} did not start: ${failures || 'no task and no failure returned'}`);
}

/**
 * Looks at the task until it has stopped: DescribeTasks, then `onPoll(task)` (follow its log, give up by
 * throwing), then `sleep(intervalMs)` unless it stopped. Returns the stopped task.
 * @param {ECSClient} ecs
 * @param {{ cluster: string, taskArn: string, intervalMs: number, sleep?: (ms: number) => Promise<void>, onPoll?: (task: Task | undefined) => Promise<void> | void }} options
 * @returns {Promise<Task>}
 */
async function untilStopped(ecs, { cluster, taskArn, intervalMs, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), onPoll }) {
  for (;;) {
    const task = (await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }))).tasks?.[0];
    await onPoll?.(task);
    if (task?.lastStatus === 'STOPPED') return task;
    await sleep(intervalMs);
  }
}

/**
 * The exit code of a stopped task's container (undefined when it never ran).
 * @param {Task} task
 * @param {string} container
 * @returns {number | undefined}
 */
const exitCodeOf = (task, container) => task.containers?.find((c) => c.name === container)?.exitCode;

/**
 * The migration trigger: runs the migration task, waits until it stops, and fails the deployment (so
 * CloudFormation rolls it back) unless its container exited 0. No PHI passes through it.
 * @param {unknown} _event
 * @param {{ getRemainingTimeInMillis?: () => number }} [context]
 * @returns {Promise<{ task: string }>}
 */
async function handler(_event, context) {
  const e = process.env;
  const ecs = new ECSClient({});
  const cluster = String(e.CLUSTER);
  // Give up with a clear reason before Lambda's own timeout would end it with none. The task keeps its
  // advisory lock, so a migration still running cannot run twice at once when the deployment is retried.
  const remaining = () => context?.getRemainingTimeInMillis?.() ?? Infinity;
  const taskArn = await startTask(
    ecs,
    {
      cluster,
      taskDefinition: String(e.TASK_DEFINITION),
      subnets: String(e.SUBNETS).split(','),
      securityGroups: [String(e.SECURITY_GROUP)],
      startedBy: 'migrate-trigger',
    },
    'the migration task',
  );
  const task = await untilStopped(ecs, {
    cluster,
    taskArn,
    intervalMs: 10_000,
    onPoll: (t) => {
      if (t?.lastStatus !== 'STOPPED' && remaining() < 30_000)
        throw new Error(
          `migration task ${taskArn} has not stopped before the deployment hook ran out of time; it may still be running: read its log stream migrate/migrate/${taskArn.split('/').pop()}, then deploy again`,
        );
    },
  });
  const exitCode = exitCodeOf(task, 'migrate');
  if (exitCode !== 0) throw new Error(`migration task ${taskArn} failed: exit ${exitCode} ${task.stoppedReason ?? ''}`);
  return { task: taskArn };
}

module.exports = { startTask, untilStopped, exitCodeOf, handler };
