/**
 * One synth of everything that deploys (the delivery app and one preview environment, as `cdk synth
 * --no-lookups` would build them from cdk.json) turned into each account's execution policy and
 * permissions boundary. Used by `npm run bootstrap:policy` and by the tests that evaluate the result.
 */
import { appSettings } from '../../lib/config';
import { ToolingNames } from '../../lib/contract';
import { LoadedStack, placementDefaults, readCdkContext, synthDeliveryAndPreview } from '../access-matrix/assembly';
import {
  AccountPlan,
  accountPlans,
  executionPolicy,
  MANAGED_POLICY_MAX_CHARS,
  permissionsBoundary,
  PolicyDocument,
  roleActions,
  splitPolicy,
} from './policies';

export * from './policies';

export interface AccountPolicies {
  readonly plan: AccountPlan;
  /** What the account holds, for the bootstrap command: `tooling`, `environments` or `sandbox`. */
  readonly kind: 'tooling' | 'environments' | 'sandbox';
  /** The execution policy, in as few managed policies as IAM's size limit allows (named by executionPolicyNames). */
  readonly execution: readonly PolicyDocument[];
  readonly boundary: PolicyDocument;
  /** The stacks deploying to this account, as loaded (for the tests that probe every resource). */
  readonly stacks: readonly LoadedStack[];
}

export interface Synthesized {
  readonly context: Record<string, unknown>;
  readonly stacks: readonly LoadedStack[];
}

/**
 * Synthesizes the delivery app and the preview of MATRIX_BRANCH from `root`'s cdk.json, or from `context`
 * in its place (tests give the secrets a customer managed key this way).
 */
export async function synthEverything(root: string, context: Record<string, unknown> = readCdkContext(root)): Promise<Synthesized> {
  return { context, stacks: placeStacks(await synthDeliveryAndPreview(root, context), context) };
}

/**
 * Every stack with its account (one the manifest leaves open goes where it would deploy: the tooling account,
 * or previews.account for the preview synth), once per account: the preview synth repeats account-level stacks.
 */
export function placeStacks(stacks: readonly LoadedStack[], context: Record<string, unknown>): LoadedStack[] {
  const defaults = placementDefaults(context);
  const seen = new Set<string>();
  return stacks
    .map((s) => ({ ...s, account: s.account ?? (s.origin === 'branch' ? defaults.branch : defaults.delivery) }))
    .filter((s) => {
      const key = `${s.account}/${s.stackName}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** Each account's two policies, from one synth. */
export function bootstrapPolicies(synthesized: Synthesized): AccountPolicies[] {
  const { context, stacks } = synthesized;
  const { project } = appSettings(context);
  const defaults = placementDefaults(context);
  const previews = (context.previews ?? {}) as { bootstrapQualifier?: unknown };
  const branchQualifier = typeof previews.bootstrapQualifier === 'string' ? previews.bootstrapQualifier : undefined;
  const names = new ToolingNames(project);
  return accountPlans(stacks, { project, region: defaults.region, branchQualifier, branchAccount: defaults.branch }).map((plan) => {
    const own = stacks.filter((s) => s.account === plan.account);
    const kind = own.some((s) => s.stackName === names.pipelineStackName)
      ? 'tooling'
      : own.some((s) => s.origin === 'branch' && s.stackName.includes('-br-'))
        ? 'sandbox'
        : 'environments';
    const execution = splitPolicy(executionPolicy(plan));
    const boundary = permissionsBoundary(plan, roleActions(own.map((s) => s.template)));
    for (const doc of [...execution, boundary])
      for (const st of doc.Statement) {
        const actions = ([] as unknown[]).concat(st.Action ?? st.NotAction ?? []);
        if (actions.length === 0) throw new Error(`a policy of account ${plan.account} has a statement with no action (${String(st.Sid)})`);
      }
    const size = JSON.stringify(boundary).length;
    if (size > MANAGED_POLICY_MAX_CHARS)
      throw new Error(
        `the permissions boundary of account ${plan.account} is ${size} characters: IAM accepts at most ${MANAGED_POLICY_MAX_CHARS}`,
      );
    return { plan, kind, execution, boundary, stacks: own };
  });
}
