// @ts-check
/**
 * The preview environment cap, counted once: by the EnvironmentCap trigger (this file is its Lambda
 * handler, deployed as it is with Code.fromInline; the Node.js runtime provides SDK v3) and by
 * `npm run preview -- check-cap` (scripts/operations/preview.ts), which import the same functions.
 * Plain CommonJS with types checked by tsc (// @ts-check): Lambda loads it without a build step.
 */
const { CloudFormationClient, DescribeStacksCommand, paginateListStacks } = require('@aws-sdk/client-cloudformation');

/**
 * @typedef {{ key: string, value: string }} Tag
 * @typedef {{ StackName?: string, StackStatus?: string, Tags?: Array<{ Key?: string, Value?: string }> }} StackLike
 */

/**
 * Statuses of a stack that holds no preview slot: a create that failed or was rolled back (a deploy the cap
 * refused rolls its first stack back to ROLLBACK_COMPLETE, and that stack stays until deleted), a change set
 * never executed, and a deletion under way or done. Any other status is an environment that exists or is
 * being made, and counts. https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSummary.html
 * @type {ReadonlySet<string>}
 */
const NO_SLOT_STATUSES = new Set([
  'CREATE_FAILED',
  'ROLLBACK_IN_PROGRESS',
  'ROLLBACK_FAILED',
  'ROLLBACK_COMPLETE',
  'REVIEW_IN_PROGRESS',
  'DELETE_IN_PROGRESS',
  'DELETE_FAILED',
  'DELETE_COMPLETE',
]);

/**
 * @param {string | undefined} status
 * @returns {boolean}
 */
const holdsSlot = (status) => status !== undefined && !NO_SLOT_STATUSES.has(status);

/**
 * The preview environments of `project` that hold a slot, by suffix (sorted), from their stacks: an
 * environment counts when any of its stacks tagged `previewTag` holds one. `except` (the environment being
 * deployed) never counts against itself.
 * @param {readonly StackLike[]} stacks
 * @param {{ project: string, previewTag: Tag, except?: string }} options
 * @returns {string[]}
 */
function environmentsInUse(stacks, { project, previewTag, except }) {
  const suffixes = new Set();
  for (const stack of stacks) {
    const tags = Object.fromEntries((stack.Tags ?? []).map((t) => [t.Key, t.Value]));
    const suffix = tags.EnvironmentSuffix;
    if (tags[previewTag.key] !== previewTag.value || tags.Project !== project || !suffix || suffix === except) continue;
    if (holdsSlot(stack.StackStatus)) suffixes.add(suffix);
  }
  return [...suffixes].sort();
}

/**
 * Why creating `suffix` is refused, or undefined when it may be created: at the cap, a new environment is
 * refused; one that already holds a slot (an update) never is.
 * @param {readonly string[]} inUse
 * @param {number} max
 * @param {string} suffix
 * @returns {string | undefined}
 */
function capRefusal(inUse, max, suffix) {
  if (inUse.includes(suffix) || inUse.length < max) return undefined;
  return `preview environment cap reached: ${inUse.length} of ${max} in use (${inUse.join(', ')}); ${suffix} was not created. Merge or close a branch, or run npm run destroy -- --suffix <name>, then deploy again`;
}

/**
 * The first stacks of other preview environments, described: ListStacks (names and status only) filtered by
 * name, then DescribeStacks of each for its tags, so that the function's role may read no other stack.
 * @param {CloudFormationClient} cfn
 * @param {string} firstStackPrefix
 * @param {string} ownStack
 * @returns {Promise<StackLike[]>}
 */
async function describeFirstStacks(cfn, firstStackPrefix, ownStack) {
  const stacks = [];
  for await (const page of paginateListStacks({ client: cfn }, {})) {
    for (const s of page.StackSummaries ?? []) {
      if (!holdsSlot(s.StackStatus) || !s.StackName?.startsWith(firstStackPrefix) || s.StackName === ownStack) continue;
      try {
        stacks.push(...((await cfn.send(new DescribeStacksCommand({ StackName: s.StackId }))).Stacks ?? []));
      } catch (error) {
        // Deleted since it was listed.
        if (/** @type {{ name?: string }} */ (error).name === 'ValidationError') continue;
        throw error;
      }
    }
  }
  return stacks;
}

/**
 * The trigger: fails the deployment (so CloudFormation rolls it back) when a new preview environment would
 * exceed the cap. The SDK's own bounded, adaptive retries absorb throttling.
 * @returns {Promise<{ inUse: number, max: number }>}
 */
async function handler() {
  const e = process.env;
  const cfn = new CloudFormationClient({ maxAttempts: 8, retryMode: 'adaptive' });
  const max = Number(e.MAX_ENVIRONMENTS);
  const suffix = String(e.ENVIRONMENT_SUFFIX);
  const stacks = await describeFirstStacks(cfn, String(e.FIRST_STACK_PREFIX), String(e.OWN_STACK));
  const previewTag = { key: String(e.PREVIEW_TAG_KEY), value: String(e.PREVIEW_TAG_VALUE) };
  const inUse = environmentsInUse(stacks, { project: String(e.PROJECT), previewTag, except: suffix });
  const refusal = capRefusal(inUse, max, suffix);
  if (refusal) throw new Error(refusal);
  return { inUse: inUse.length, max };
}

module.exports = { NO_SLOT_STATUSES, holdsSlot, environmentsInUse, capRefusal, describeFirstStacks, handler };
