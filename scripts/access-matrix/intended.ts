/**
 * The INTENDED access matrix of issue 8, as checks over an evaluated matrix. Each violation is one line
 * naming the environment, the capability, the principal (and the chain it used) and the rule it breaks.
 */
import type { Grant, Matrix } from './evaluate';
import type { Principal } from './model';

export function violations(matrix: Matrix): string[] {
  const out: string[] = [];
  const byId = new Map(matrix.model.principals.map((p) => [p.id, p]));
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
          const allowedDirect = grant.via.length === 0 && (
            (own(principal) && (principal.purpose === 'workload' || principal.purpose === 'post-deploy'))
            // A per-branch environment's post-deploy step is the per-branch pipeline's integration build.
            || (env.perBranch && principal.perBranch && principal.purpose === 'post-deploy'));
          // A pipeline step reaching PHI only by assuming the environment's own post-deploy role is the design.
          const allowedChain = grant.via.length > 0 && own(last) && last?.purpose === 'post-deploy';
          if (!allowedDirect && !allowedChain) out.push(`${env.suffix}: ${capability.id}: ${describe(grant)} reaches PHI but is not this environment's processor, verify or post-deploy role`);
        }
      }
    }
  }

  // 3. Every service principal (and the execution role) that must act can.
  for (const check of matrix.serviceChecks) {
    if (!check.allowed) out.push(`${check.environment}: ${check.description}: ${check.principal} cannot ${check.action} on ${check.resource}${check.detail ? ` (needs ${check.detail})` : ''}`);
  }
  for (const env of matrix.model.environments) {
    if (env.alarmTopics.length === 0) out.push(`${env.suffix}: no alarm topic found: the matrix cannot prove CloudWatch can publish`);
    if (env.executionRoleArns.length === 0) out.push(`${env.suffix}: no task execution role found`);
  }
  // 4. Anything the engine refused is a gap in the proof, not a pass.
  for (const error of matrix.errors) out.push(`simulation error: ${error}`);
  return out;
}
