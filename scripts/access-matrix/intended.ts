/**
 * The INTENDED access matrix of issue 8, as checks over an evaluated matrix. Each violation is one line
 * naming the environment, the capability, the principal (and the chain it used) and the rule it breaks.
 */
import type { Grant, Matrix } from './evaluate';
import type { Principal } from './model';

/** What CloudFormation's execution role reads to resolve the database master secret's dynamic reference. */
const MASTER_SECRET_CAPABILITIES = ['phi-secret', 'phi-secret-key'];

const resolvesTheSecret = (p: Principal, account: string) =>
  p.kind === 'bootstrap' && p.purpose === 'deploy-execution' && p.account === account;

export function violations(matrix: Matrix): string[] {
  const out: string[] = [];
  const byId = new Map(matrix.model.principals.map((p) => [p.id, p]));
  const secretResolvers = (account: string) => matrix.model.principals.filter((p) => resolvesTheSecret(p, account)).map((p) => p.id);
  const describe = (g: Grant) => (g.via.length > 0 ? `${g.principal} (via ${g.via.join(' -> ')})` : g.principal);

  for (const { environment: env, capabilities } of matrix.environments) {
    const own = (p: Principal | undefined) => p !== undefined && p.kind === 'role' && p.home === env.suffix;
    for (const { capability, grants } of capabilities) {
      for (const grant of grants) {
        const principal = byId.get(grant.principal);
        if (!principal) continue;
        const chain = [principal, ...grant.via.map((id) => byId.get(id))];
        // 1. No per-branch principal reaches a long-lived environment, in any capability, directly or through a chain.
        const branchy = (p: Principal | undefined) => p !== undefined && (p.perBranch || matrix.branchControlled.includes(p.id));
        if (!env.perBranch && chain.some(branchy)) {
          out.push(`${env.suffix}: ${capability.id}: per-branch principal ${describe(grant)} reaches a long-lived environment`);
          continue;
        }
        // 2. Only the environment's own workload (processor, verify, migration tasks) and post-deploy roles reach its PHI.
        if (capability.group === 'Read PHI' && principal.kind !== 'service') {
          const last = chain[chain.length - 1];
          const allowedDirect =
            grant.via.length === 0 &&
            ((own(principal) && (principal.purpose === 'workload' || principal.purpose === 'post-deploy')) ||
              // A per-branch environment's post-deploy step is the per-branch pipeline's integration build.
              (env.perBranch && principal.perBranch && principal.purpose === 'post-deploy'));
          // A pipeline step reaching PHI only by assuming the environment's own post-deploy role is the design.
          const allowedChain = grant.via.length > 0 && own(last) && last?.purpose === 'post-deploy';
          // Through the read API, PHI is read as this environment's reader role, by it or whoever assumes it (rule 3 below).
          const throughReader = capability.id === 'phi-read-api' && own(last) && last?.purpose === 'reader';
          // The read API's function logs in as its own database user (rule 3 below names exactly which role).
          const apiFunction =
            capability.id === 'phi-db-connect-api' && grant.via.length === 0 && env.readApiFunctionRoleArns.includes(principal.arn);
          if (throughReader || apiFunction) continue;
          // CloudFormation resolves the master password's dynamic reference with its execution role (only CloudFormation assumes it).
          const resolvesSecret =
            grant.via.length === 0 && resolvesTheSecret(principal, env.account) && MASTER_SECRET_CAPABILITIES.includes(capability.id);
          // RDS and AWS Backup use the data keys for the instance and vault CloudFormation creates (kms:ViaService
          // only): the service holds the data key, no plaintext reaches the execution role.
          const throughStorage =
            grant.via.length === 0 &&
            resolvesTheSecret(principal, env.account) &&
            ['phi-stream-key', 'phi-database-key'].includes(capability.id) &&
            grant.conditions.length > 0 &&
            grant.conditions.every((c) => /^kms:ViaService StringEquals /.test(c) || /^not kms:ViaService Null/.test(c)) &&
            !grant.conditions.some((c) => c.includes('secretsmanager'));
          if (resolvesSecret || throughStorage) continue;
          if (!allowedDirect && !allowedChain)
            out.push(
              `${env.suffix}: ${capability.id}: ${describe(grant)} reaches PHI but is not this environment's processor, verify or post-deploy role`,
            );
        }
      }
    }
  }

  // 3. Exactly the intended principals, no more and no fewer, for the capabilities the design names one by one.
  for (const { environment: env, capabilities } of matrix.environments) {
    const idsOf = (arns: readonly string[]) => arns.map((arn) => matrix.model.principals.find((p) => p.arn === arn)?.id ?? arn).sort();
    const exact: Record<string, { who: string[]; why: string }> = {
      // Its own login (rds-db:connect on exactly that user of exactly that instance); the verify task runs the same task definition.
      'phi-db-connect': { who: idsOf(env.processorTaskRoleArns), why: "only the processor's task role logs in as the processor user" },
      'phi-db-connect-other': { who: [], why: 'no IAM principal logs in as any other database user' },
      // The restore drill: only its task role restores the live database (into drill-named copies) and logs in as the drill user.
      'phi-db-restore': { who: idsOf(env.drillTaskRoleArns), why: "only the restore drill's task role restores the live database" },
      'drill-db-connect': { who: idsOf(env.drillTaskRoleArns), why: "only the restore drill's task role logs in as the drill user" },
      'drill-db-delete': {
        who: secretResolvers(env.account),
        why: "no IAM principal but CloudFormation's execution role deletes or modifies the live database (the drill deletes its own copies only)",
      },
      // Master credentials are used only to apply migrations, by the one-off migration task, and CloudFormation
      // resolves them into the instance's master password with the account's execution role(s).
      'phi-secret': {
        who: [...idsOf(env.migrationExecutionRoleArns), ...secretResolvers(env.account)].sort(),
        why: "only the migration task's execution role reads the master secret (and CloudFormation's execution role resolves it)",
      },
      'phi-secret-key': {
        who: [...idsOf(env.migrationExecutionRoleArns), ...secretResolvers(env.account)].sort(),
        why: "only the migration task's execution role decrypts with the master secret's key (and CloudFormation's execution role, through Secrets Manager)",
      },
    };
    // Read PHI through the API: only the reader role. Every grant ends at this environment's reader role, and it can.
    const readerIds = matrix.model.principals
      .filter((p) => p.kind === 'role' && p.home === env.suffix && p.purpose === 'reader')
      .map((p) => p.id);
    const apiReads = capabilities.find((c) => c.capability.id === 'phi-read-api');
    for (const g of apiReads?.grants ?? []) {
      const last = g.via.length > 0 ? g.via[g.via.length - 1] : g.principal;
      if (!readerIds.includes(last))
        out.push(`${env.suffix}: phi-read-api: ${describe(g)} can, but only the reader role reads PHI through the API`);
    }
    for (const id of readerIds)
      if (!apiReads?.grants.some((g) => g.principal === id && g.via.length === 0))
        out.push(`${env.suffix}: phi-read-api: ${id} cannot, but the reader role reads PHI through the API`);
    exact['phi-db-connect-api'] = {
      who: idsOf(env.readApiFunctionRoleArns),
      why: "only the read API's function logs in as the read API's user",
    };
    for (const { capability, grants } of capabilities) {
      const want = exact[capability.id];
      if (!want) continue;
      const got = grants.map((g) => g.principal).sort();
      for (const g of grants)
        if (!want.who.includes(g.principal)) out.push(`${env.suffix}: ${capability.id}: ${describe(g)} can, but ${want.why}`);
      for (const id of want.who) if (!got.includes(id)) out.push(`${env.suffix}: ${capability.id}: ${id} cannot, but ${want.why}`);
    }
    for (const id of [
      'phi-db-connect',
      'phi-db-connect-other',
      'phi-secret',
      'phi-secret-key',
      'phi-db-restore',
      'drill-db-connect',
      'drill-db-delete',
      'phi-read-api',
      'phi-db-connect-api',
    ]) {
      if (!capabilities.some((c) => c.capability.id === id))
        out.push(`${env.suffix}: ${id}: not evaluated (its resource was not found in the templates), so the matrix cannot prove it`);
    }
  }

  // 4. Every service principal (and the execution role) that must act can.
  for (const check of matrix.serviceChecks) {
    if (!check.allowed)
      out.push(
        `${check.environment}: ${check.description}: ${check.principal} cannot ${check.action} on ${check.resource}${check.detail ? ` (needs ${check.detail})` : ''}`,
      );
  }
  for (const env of matrix.model.environments) {
    if (env.alarmTopics.length === 0) out.push(`${env.suffix}: no alarm topic found: the matrix cannot prove CloudWatch can publish`);
    if (env.executionRoleArns.length === 0) out.push(`${env.suffix}: no task execution role found`);
    if (env.migrationExecutionRoleArns.length === 0)
      out.push(`${env.suffix}: no migration task (family *-migrate-*) found: the matrix cannot prove who reads the master secret`);
  }
  // 5. Anything the engine refused is a gap in the proof, not a pass.
  for (const error of matrix.errors) out.push(`simulation error: ${error}`);
  return out;
}
