import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';

const PREFIXES = ['codestar-connections', 'codeconnections'] as const;

/**
 * The connection's ARN under both service prefixes. AWS renamed CodeStar Connections to
 * CodeConnections; IAM matches the action prefix against the ARN's prefix, so a role must be
 * allowed both `codestar-connections:UseConnection` and `codeconnections:UseConnection`, on both ARN
 * forms, whichever one the configuration holds.
 * https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html
 */
export function connectionArnForms(connectionArn: string): string[] {
  const prefix = PREFIXES.find((p) => connectionArn.includes(`:${p}:`));
  if (!prefix) throw new Error(`"${connectionArn}" is not a codestar-connections or codeconnections ARN`);
  return PREFIXES.map((p) => connectionArn.replace(`:${prefix}:`, `:${p}:`));
}

/** The one statement that lets a role use the connection, under either prefix. */
export function useConnectionStatement(connectionArn: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'UseRepositoryConnection',
    actions: PREFIXES.flatMap((p) => [`${p}:UseConnection`]),
    resources: connectionArnForms(connectionArn),
  });
}

/** Adds useConnectionStatement to a role (a source action role, or a build that clones the repository). */
export function grantUseConnection(grantee: iam.IGrantable, connectionArn: string): void {
  grantee.grantPrincipal.addToPrincipalPolicy(useConnectionStatement(connectionArn));
}

/** The role of every source action of a pipeline (CDK names it `<stage>/<action>/CodePipelineActionRole`). */
export function sourceActionRoles(pipeline: codepipeline.IPipeline & { readonly node: codepipeline.Pipeline['node'] }): iam.Role[] {
  const roles = pipeline.node
    .findAll()
    .filter(
      (c): c is iam.Role =>
        c instanceof iam.Role && c.node.id === 'CodePipelineActionRole' && c.node.scope?.node.scope?.node.id === 'Source',
    );
  if (roles.length === 0) throw new Error(`no source action role found in ${pipeline.node.path}; the CDK layout changed`);
  return roles;
}
