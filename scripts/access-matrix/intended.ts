/**
 * The INTENDED access matrix of issue 8, as checks over an evaluated matrix. Each violation is one line
 * naming the environment, the capability, the principal (and the chain it used) and the rule it breaks.
 */
import type { EnvironmentMatrix, Grant, Matrix } from './evaluate';
import type { Environment, Principal } from './model';
import { entriesFor, EnvironmentVars, isPermittedAssumer, PermittedPrincipal } from './permitted';
import { phiReaders, READ_PHI } from './summary';

/** The placeholders of permitted.ts for an environment (its project from its stacks' `<project>-<layer>-<suffix>` names). */
export function environmentVars(env: Environment): EnvironmentVars {
  const project = env.stacks[0]?.name.replace(new RegExp(`-[a-z]+-${env.suffix}$`), '') ?? '';
  return { project, suffix: env.suffix, account: env.account, region: env.region, profile: env.profile };
}

const resolvesTheSecret = (p: Principal, account: string) =>
  p.kind === 'bootstrap' && p.purpose === 'deploy-execution' && p.account === account;

export function violations(matrix: Matrix): string[] {
  const out: string[] = [];
  const byId = new Map(matrix.model.principals.map((p) => [p.id, p]));
  const secretResolvers = (account: string) => matrix.model.principals.filter((p) => resolvesTheSecret(p, account)).map((p) => p.id);
  const describe = (g: Grant) => (g.via.length > 0 ? `${g.principal} (via ${g.via.join(' -> ')})` : g.principal);

  for (const { environment: env, capabilities } of matrix.environments) {
    const vars = environmentVars(env);
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
        // 2. Only the principals the intended matrix names (permitted.ts), each for what it names, reach PHI or put records.
        if ((capability.group === 'Read PHI' || capability.group === 'Put records') && principal.kind !== 'service') {
          const conditionsFit = (e: PermittedPrincipal) =>
            !e.onlyIf || (grant.conditions.length > 0 && grant.conditions.every((c) => e.onlyIf!.test(c)));
          const holds = (p: Principal | undefined) =>
            p ? entriesFor(p, vars).filter((e) => e.may.includes(capability.id) && conditionsFit(e)) : [];
          if (grant.via.length === 0) {
            if (holds(principal).length === 0)
              out.push(
                `${env.suffix}: ${capability.id}: ${describe(grant)} can, but the intended matrix (permitted.ts) names no such principal for it`,
              );
          } else {
            const last = byId.get(grant.via[grant.via.length - 1]);
            // Every hop from a step an entry of the assumed role names (the tooling step roles assume the environment's
            // post-deploy role, which assumes its reader role), ending at a role that holds the capability.
            const scope = { ...vars, perBranch: env.perBranch };
            const hopsPermitted = chain.slice(1).every((assumed, i) => {
              const assumer = chain[i];
              return (
                assumed !== undefined &&
                assumer !== undefined &&
                entriesFor(assumed, vars).some((e) => isPermittedAssumer(e, assumer, scope))
              );
            });
            const viaPermitted = hopsPermitted && holds(last).some((e) => isPermittedAssumer(e, chain[chain.length - 2]!, scope));
            if (!viaPermitted)
              out.push(
                `${env.suffix}: ${capability.id}: ${describe(grant)} can, but the intended matrix (permitted.ts) names no such principal or step for it`,
              );
          }
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
      // Its entry in permitted.ts names the audit chain export's task role (the only one the exact check admits).
      'audit-db-connect': { who: [], why: "only the audit chain export's task role logs in as the auditor user" },
      'drill-db-delete': {
        who: secretResolvers(env.account),
        why: "no IAM principal but CloudFormation's execution role deletes or modifies the live database (the drill deletes its own copies only)",
      },
      // Master credentials are used only to apply migrations, by the one-off migration task, and CloudFormation
      // resolves an existing secret into the instance's master password with the account's execution role(s); a
      // secret RDS manages (previews) nobody resolves.
      'phi-secret': {
        who: [...idsOf(env.migrationExecutionRoleArns), ...(env.secretManagedByRds ? [] : secretResolvers(env.account))].sort(),
        why: "only the migration task's execution role reads the master secret (and the rotation function's role, which permitted.ts names; CloudFormation's execution role resolves an existing one)",
      },
      'phi-secret-key': {
        who: [...idsOf(env.migrationExecutionRoleArns), ...secretResolvers(env.account)].sort(),
        why: "only the migration task's execution role decrypts with the master secret's key (and the rotation function's role, which permitted.ts names, and CloudFormation's execution role, through Secrets Manager)",
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
      // A principal permitted.ts names for this capability is intended too (AWS Backup's role modifies instances).
      const named = (id: string) => {
        const p = byId.get(id);
        return p !== undefined && entriesFor(p, environmentVars(env)).some((e) => e.may.includes(capability.id));
      };
      for (const g of grants)
        if (!want.who.includes(g.principal) && !named(g.principal))
          out.push(`${env.suffix}: ${capability.id}: ${describe(g)} can, but ${want.why}`);
      for (const id of want.who) if (!got.includes(id)) out.push(`${env.suffix}: ${capability.id}: ${id} cannot, but ${want.why}`);
    }
    for (const id of [
      'phi-db-connect',
      'phi-db-connect-other',
      'phi-secret',
      // An RDS-managed secret is encrypted with the AWS managed key aws/secretsmanager: phi-secret is the whole path.
      ...(env.secretManagedByRds ? [] : ['phi-secret-key']),
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

  // 3b. Put records: the environment's producer role, and its post-deploy role where the integration suite writes (directly,
  // or a pipeline step through it); the producer role must be able to.
  for (const { environment: env, capabilities } of matrix.environments) {
    const put = capabilities.find((c) => c.capability.id === 'put-records');
    if (!put) continue;
    const own = (p: Principal | undefined, purpose: Principal['purpose']) =>
      p?.kind === 'role' && p.home === env.suffix && p.purpose === purpose;
    for (const g of put.grants) {
      const principal = byId.get(g.principal);
      const last = byId.get(g.via[g.via.length - 1] ?? g.principal);
      const allowed = g.via.length === 0 ? own(principal, 'producer') || own(principal, 'post-deploy') : own(last, 'post-deploy');
      if (!allowed)
        out.push(
          `${env.suffix}: put-records: ${describe(g)} can, but only the producer role (and the post-deploy role of the integration suite) may put records`,
        );
    }
    if (!put.grants.some((g) => g.via.length === 0 && own(byId.get(g.principal), 'producer')))
      out.push(`${env.suffix}: put-records: no producer role of this environment can put records`);
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
  // 5. A role of an environment is assumable from outside its account only by the tooling step roles.
  for (const t of matrix.trustChecks)
    if (t.allowed)
      out.push(
        `${t.environment}: trust: ${t.role} can be assumed by a principal of account ${t.callerAccount}, outside the environment's account, that is not a tooling step role`,
      );
  // 6. Every VPC endpoint has a policy that passes the environment's own calls and no write to another account's resources.
  for (const env of matrix.model.environments)
    for (const endpoint of env.endpoints) {
      if (!endpoint.policy)
        out.push(`${env.suffix}: endpoint ${endpoint.id} (${endpoint.service}) has no endpoint policy: it allows any request`);
      if (!matrix.endpointChecks.some((c) => c.environment === env.suffix && c.endpoint === endpoint.id))
        out.push(
          `${env.suffix}: endpoint ${endpoint.id} (${endpoint.service}): the matrix asks nothing of this service, so it cannot prove its policy`,
        );
    }
  for (const c of matrix.endpointChecks)
    if (c.allowed !== (c.expected === 'allow'))
      out.push(
        `${c.environment}: endpoint ${c.endpoint} (${c.service}) ${c.allowed ? 'allows' : 'denies'} ${c.action} on ${c.resource} (account ${c.resourceAccount}), but should ${c.expected}`,
      );
  // 6b. No security group of an environment sends to any address: HTTPS goes to the endpoints' group and the S3 prefix list.
  for (const env of matrix.model.environments)
    for (const id of env.openEgress)
      out.push(
        `${env.suffix}: security group ${id} allows egress to 0.0.0.0/0 or ::/0: name the endpoints' group, the S3 prefix list or the database's group`,
      );
  // 6c. The summary of who can read PHI is exactly the intended set: nobody more, and nobody permitted.ts names is missing.
  for (const env of matrix.environments) {
    const got = phiReaders(env);
    const want = permittedPhiReaders(matrix, env);
    for (const id of got.filter((x) => !want.includes(x)))
      out.push(`${env.environment.suffix}: can read PHI: ${id} can, but the intended matrix (permitted.ts) names no such principal`);
    for (const id of want.filter((x) => !got.includes(x)))
      out.push(
        `${env.environment.suffix}: can read PHI: ${id} cannot, but the intended matrix (permitted.ts) names it for a Read PHI capability`,
      );
  }
  // 7. Anything the engine refused is a gap in the proof, not a pass.
  for (const error of matrix.errors) out.push(`simulation error: ${error}`);
  return out;
}

/**
 * The principals permitted.ts names for a Read PHI capability that the environment has, and the steps its entries
 * name as assuming them: what phiReaders must be.
 */
export function permittedPhiReaders(matrix: Matrix, env: EnvironmentMatrix): string[] {
  const vars = environmentVars(env.environment);
  const scope = { ...vars, perBranch: env.environment.perBranch };
  const asked = new Set(env.capabilities.filter((c) => c.capability.group === READ_PHI).map((c) => c.capability.id));
  const ids = new Set<string>();
  for (const p of matrix.model.principals) {
    const entries = entriesFor(p, vars).filter((e) => e.may.some((id) => asked.has(id)));
    if (entries.length === 0) continue;
    ids.add(p.id);
    for (const q of matrix.model.principals) if (entries.some((e) => isPermittedAssumer(e, q, scope))) ids.add(q.id);
  }
  return [...ids].sort();
}
