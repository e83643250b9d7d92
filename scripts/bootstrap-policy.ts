/**
 * Writes every account's bootstrap policies from one synth of everything that deploys (the delivery app
 * and a preview environment, from cdk.json, no AWS credentials): the CloudFormation execution policy
 * (`cdk bootstrap --cloudformation-execution-policies`, instead of AdministratorAccess) and the permissions
 * boundary (`cdk bootstrap --custom-permissions-boundary`, also on every role the stacks create), and prints
 * the commands that create them and bootstrap each account (docs/deploying.md, step 5).
 *
 *   npm run bootstrap:policy [-- --out-dir bootstrap-policies]
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { ToolingNames } from '../lib/contract';
import { AccountPolicies, bootstrapPolicies, executionPolicyNames, policyArn, synthEverything } from './bootstrap';
import { parseFlags, runCli } from './shared/cli';

export const USAGE = `usage: npm run bootstrap:policy [-- --out-dir DIR]
  Synthesizes the delivery app and one preview environment from cdk.json and writes, for every account
  they deploy to, DIR/<account>/execution-policy[-N].json and DIR/<account>/permissions-boundary.json,
  then prints the commands that create those policies and bootstrap the account.
  --out-dir DIR   where to write (default bootstrap-policies)`;

export interface BootstrapPolicyOptions {
  readonly outDir: string;
}

/** Strict flags; undefined means --help. */
export function parseBootstrapPolicyArgs(argv: readonly string[]): BootstrapPolicyOptions | undefined {
  const parsed = parseFlags(argv, { 'out-dir': { type: 'string', default: 'bootstrap-policies' } });
  return parsed && { outDir: parsed.flags['out-dir'] };
}

/** The shell commands, in order, that create an account's policies and bootstrap it. */
export function bootstrapCommands(
  policies: AccountPolicies,
  options: { outDir: string; toolingAccount?: string; branchQualifier?: string },
): string[] {
  const { account, region, project } = policies.plan;
  const names = new ToolingNames(project);
  const dir = join(options.outDir, account);
  const execNames = executionPolicyNames(project, policies.execution.length);
  const create = (name: string, file: string) => `aws iam create-policy --policy-name ${name} --policy-document file://${join(dir, file)}`;
  const execFiles = execNames.map((_, i) => (i === 0 ? 'execution-policy.json' : `execution-policy-${i + 1}.json`));
  const lines = [
    `# account ${account} (${policies.kind}): with credentials of that account`,
    create(names.permissionsBoundaryName, 'permissions-boundary.json'),
    ...execNames.map((name, i) => create(name, execFiles[i])),
  ];
  // The boundary on every bootstrap role too (deploy, publishing, look-up), not just the execution role.
  const common = `--cloudformation-execution-policies ${execNames.map((n) => policyArn(account, n)).join(',')} --custom-permissions-boundary ${names.permissionsBoundaryName} --apply-permissions-boundary-to-all-roles`;
  const trust = options.toolingAccount && options.toolingAccount !== account ? ` --trust ${options.toolingAccount}` : '';
  if (policies.kind === 'sandbox') {
    // The default bootstrap serves the administrator's deploys (PreviewSandbox, SharedTrail); the second one
    // exists only for per-branch builds, whose execution role the policy confines to per-branch resources.
    lines.push(`npx cdk bootstrap aws://${account}/${region} ${common}`);
    if (options.branchQualifier)
      lines.push(
        `npx cdk bootstrap aws://${account}/${region} --qualifier ${options.branchQualifier} --toolkit-stack-name CDKToolkit-${options.branchQualifier}${trust} ${common}`,
      );
  } else {
    lines.push(`npx cdk bootstrap aws://${account}/${region}${policies.kind === 'tooling' ? '' : trust} ${common}`);
  }
  return lines;
}

/** Writes every account's policy files under `outDir`; returns the commands (stdout) and one summary line per account (stderr). */
export function writeBootstrapPolicies(
  all: readonly AccountPolicies[],
  context: Record<string, unknown>,
  outDir: string,
): { commands: string; summary: string[] } {
  const toolingAccount = all.find((p) => p.kind === 'tooling')?.plan.account;
  const previews = (context.previews ?? {}) as { bootstrapQualifier?: unknown };
  const branchQualifier = typeof previews.bootstrapQualifier === 'string' ? previews.bootstrapQualifier : undefined;
  const commands: string[] = [];
  const summary: string[] = [];
  for (const policies of all) {
    const dir = join(outDir, policies.plan.account);
    mkdirSync(dir, { recursive: true });
    policies.execution.forEach((doc, i) =>
      writeFileSync(join(dir, i === 0 ? 'execution-policy.json' : `execution-policy-${i + 1}.json`), `${JSON.stringify(doc, null, 2)}\n`),
    );
    writeFileSync(join(dir, 'permissions-boundary.json'), `${JSON.stringify(policies.boundary, null, 2)}\n`);
    commands.push(...bootstrapCommands(policies, { outDir, toolingAccount, branchQualifier }), '');
    const n = policies.execution.length;
    summary.push(
      `account ${policies.plan.account} (${policies.kind}): ${policies.plan.stackNames.join(', ')}; ${n} execution polic${n === 1 ? 'y' : 'ies'} and the boundary written to ${dir}`,
    );
  }
  return { commands: commands.join('\n'), summary };
}

async function main(argv: string[]): Promise<number> {
  const options = parseBootstrapPolicyArgs(argv);
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  process.stderr.write('synthesizing the delivery app and one preview environment from cdk.json ...\n');
  const synthesized = await synthEverything(resolve(__dirname, '..'));
  const { commands, summary } = writeBootstrapPolicies(bootstrapPolicies(synthesized), synthesized.context, options.outDir);
  process.stderr.write(summary.map((line) => `${line}\n`).join(''));
  process.stdout.write(commands);
  return 0;
}

if (require.main === module) runCli('bootstrap-policy', USAGE, () => main(process.argv.slice(2)));
