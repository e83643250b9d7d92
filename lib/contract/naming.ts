import { ConfigError } from './errors';
import { Layer, LAYERS } from './environment';

/** The longest suffix we accept; keeps every name built below within its service limit. */
export const MAX_SUFFIX_LENGTH = 20;
/** Suffix of the account-wide resources shared by every environment (the shared trail). */
export const SHARED_SUFFIX = 'shared';

/** The longest project name we accept (see MAX_SUFFIX_LENGTH). */
export const MAX_PROJECT_LENGTH = 12;

/**
 * Every preview (per-branch) suffix starts with this, and no long-lived suffix may (see
 * longLivedSuffixProblem): an IAM pattern such as `<project>-records-br-*` then matches
 * preview resources only, never `dev`, `prod` or any other configured environment.
 */
export const PREVIEW_SUFFIX_PREFIX = 'br-';

const SUFFIX_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const PROJECT_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const PIPELINE_VARIABLE = /^#\{[A-Za-z0-9_]+\.[A-Za-z0-9_]+\}$/;

/** Why a suffix is not valid, or undefined when it is. */
export function suffixProblem(suffix: string): string | undefined {
  if (suffix.length === 0 || suffix.length > MAX_SUFFIX_LENGTH || !SUFFIX_PATTERN.test(suffix)) {
    return `use 1-${MAX_SUFFIX_LENGTH} lowercase letters, digits and single hyphens, not starting or ending with a hyphen`;
  }
  return undefined;
}

/** Why a project name is not valid, or undefined when it is. */
export function projectProblem(project: string): string | undefined {
  if (project.length < 2 || project.length > MAX_PROJECT_LENGTH || !PROJECT_PATTERN.test(project)) {
    return `use 2-${MAX_PROJECT_LENGTH} lowercase letters, digits and single hyphens, starting with a letter`;
  }
  return undefined;
}

/** Why a long-lived (configured) environment may not use this suffix, or undefined. */
export function longLivedSuffixProblem(suffix: string): string | undefined {
  // Also inside: generated names (`<stack>-<LogicalId>-<hash>`) are matched by `<project>-*-br-*`.
  return /(^|-)br-/.test(suffix)
    ? `suffixes starting with (or containing) "${PREVIEW_SUFFIX_PREFIX}" are reserved for preview environments; rename the environment`
    : undefined;
}

/** Service limits on the names we build (the strictest rule of each kind). */
const LIMITS = {
  stack: 128,
  dbInstance: 63,
  stream: 128,
  logGroup: 512,
  kmsAlias: 256,
  trail: 128,
  topic: 256,
  cluster: 255,
  generic: 64,
} as const;

function check(name: string, kind: keyof typeof LIMITS): string {
  if (name.length > LIMITS[kind]) {
    throw new ConfigError(
      `name "${name}" is ${name.length} characters; ${kind} names allow ${LIMITS[kind]}: shorten project or environmentSuffix`,
    );
  }
  return name;
}

function checkProject(project: string): void {
  const p = projectProblem(project);
  if (p) throw new ConfigError(`project "${project}" is invalid: ${p}`);
}

/**
 * Builds every physical name of one environment. Each name contains the project and the
 * environmentSuffix, so environments never collide in one account and every resource can be
 * traced to its environment by name alone.
 */
export class Naming {
  /**
   * The suffix that makes every name an IAM pattern matching preview environments only: every
   * preview suffix starts with `br-` (PREVIEW_SUFFIX_PREFIX) and no long-lived one may, so
   * `<project>-cluster-br-*` can never match `dev`, `prod` or any configured environment.
   */
  static readonly ANY_PREVIEW = `${PREVIEW_SUFFIX_PREFIX}*`;

  /** Names as IAM patterns (`<project>-cluster-br-*`, ...) over every preview environment, and nothing else. */
  static anyPreview(project: string): Naming {
    return new Naming(project, Naming.ANY_PREVIEW);
  }

  /**
   * Names whose suffix is a CodePipeline variable resolved at run time (`#{Deploy.ENVIRONMENT_SUFFIX}`),
   * for a build that derives the suffix itself.
   */
  static ofPipelineVariable(project: string, variable: string): Naming {
    if (!PIPELINE_VARIABLE.test(variable))
      throw new ConfigError(`"${variable}" is not a CodePipeline variable such as #{Deploy.ENVIRONMENT_SUFFIX}`);
    return new Naming(project, variable);
  }

  constructor(
    public readonly project: string,
    public readonly suffix: string,
  ) {
    checkProject(project);
    const s = suffix === Naming.ANY_PREVIEW || PIPELINE_VARIABLE.test(suffix) ? undefined : suffixProblem(suffix);
    if (s) throw new ConfigError(`environmentSuffix "${suffix}" is invalid: ${s}`);
  }

  /** `<project>-<layer>-<suffix>`, the CloudFormation stack name. */
  stackName(layer: Layer): string {
    return check(`${this.project}-${layer}-${this.suffix}`, 'stack');
  }

  /** The stack names of every layer, in deployment order. */
  get stackNames(): readonly string[] {
    return LAYERS.map((layer) => this.stackName(layer));
  }

  /** `<project>-<purpose>-<suffix>` for resources that need a fixed name. */
  resourceName(purpose: string): string {
    return check(`${this.project}-${purpose}-${this.suffix}`, 'generic');
  }

  /** The RDS instance identifier; RDS derives its log group names from it (see rdsLogGroupName). */
  get dbInstanceIdentifier(): string {
    return check(`${this.project}-db-${this.suffix}`, 'dbInstance');
  }

  /** The Kinesis stream that ingests FHIR records. */
  get streamName(): string {
    return check(`${this.project}-records-${this.suffix}`, 'stream');
  }

  /** Every stream of this project starts with this; the shared trail selects data events by it. */
  static streamNamePrefix(project: string): string {
    return `${project}-records-`;
  }

  /** A log group under `/<project>/<suffix>/`. */
  logGroupName(path: string): string {
    return check(`/${this.project}/${this.suffix}/${path}`, 'logGroup');
  }

  /** The ECS cluster of the processor. */
  get clusterName(): string {
    return this.resourceName('cluster');
  }

  /** The processor's task definition family (named so a test step can run exactly this task). */
  get processorFamily(): string {
    return this.resourceName('processor');
  }

  /** The processor's task and execution roles (named so iam:PassRole can name exactly these). */
  get processorRoleNames(): { readonly task: string; readonly execution: string } {
    return { task: this.resourceName('processor-task'), execution: this.resourceName('processor-exec') };
  }

  /** The one-off migration task's family and roles (the only principal that reads the master secret). */
  get migrationFamily(): string {
    return this.resourceName('migrate');
  }

  get migrationRoleNames(): { readonly task: string; readonly execution: string } {
    return { task: this.resourceName('migrate-task'), execution: this.resourceName('migrate-exec') };
  }

  /** The processor's log group (also the migration, verify and one-off tasks' output). */
  get processorLogGroupName(): string {
    return this.logGroupName('processor');
  }

  /** Log groups of the environment, by what writes them. */
  get logGroupNames(): {
    readonly flowLogs: string;
    readonly customResources: string;
    readonly deployHooks: string;
    readonly trail: string;
    readonly applicationAudit: string;
    readonly processor: string;
  } {
    return {
      flowLogs: this.logGroupName('vpc-flow-logs'),
      customResources: this.logGroupName('custom-resources'),
      deployHooks: this.logGroupName('deploy-hooks'),
      trail: this.logGroupName('audit/cloudtrail'),
      applicationAudit: this.logGroupName('audit/application'),
      processor: this.processorLogGroupName,
    };
  }

  /** The read API's role that callers assume: the one identity that reads PHI through the API. */
  get readerRoleName(): string {
    return this.resourceName('reader');
  }

  /** The read API (REST API and its function) and its two log groups: the function's, and the access log. */
  get readApi(): { readonly name: string; readonly functionLogGroup: string; readonly accessLogGroup: string } {
    return {
      name: this.resourceName('read-api'),
      functionLogGroup: this.logGroupName('read-api'),
      accessLogGroup: this.logGroupName('audit/read-api-access'),
    };
  }

  /**
   * The master secret's rotation function, its role (named so the secret's key policy can admit exactly it, and the
   * access matrix can name it) and its log group.
   */
  get secretRotation(): { readonly functionName: string; readonly roleName: string; readonly logGroup: string } {
    return {
      functionName: this.resourceName('db-rotation'),
      roleName: this.resourceName('db-rotation'),
      logGroup: this.logGroupName('db-rotation'),
    };
  }

  get streamKeyAlias(): string {
    return this.kmsAlias('stream');
  }

  kmsAlias(purpose: string): string {
    return check(`alias/${this.project}/${this.suffix}/${purpose}`, 'kmsAlias');
  }

  get trailName(): string {
    return check(`${this.project}-trail-${this.suffix}`, 'trail');
  }

  topicName(purpose: string): string {
    return check(`${this.project}-${purpose}-${this.suffix}`, 'topic');
  }

  /** The role producers assume to put records on the stream (and do nothing else). */
  get producerRoleName(): string {
    return this.resourceName('producer');
  }

  /** The role the environment's post-deploy step assumes, created in the environment's account. */
  get postDeployRoleName(): string {
    return this.resourceName('post-deploy');
  }

  /** The post-deploy step's CodeBuild role in the tooling account (trusted by postDeployRoleName only). */
  get postDeployStepRoleName(): string {
    return this.resourceName('post-deploy-step');
  }

  /** The CodeBuild project of the post-deploy step. */
  postDeployProjectName(suite: 'integ' | 'smoke'): string {
    return this.resourceName(suite === 'integ' ? 'integ-test' : 'smoke-test');
  }

  /** Temporary restore-drill instances are named `<prefix><14 UTC digits>` (DRILL_TIMESTAMP_LENGTH). */
  get restoreDrillInstancePrefix(): string {
    return `${this.resourceName('drill')}-`;
  }

  /** The restore drill's task family, schedule rule and roles. */
  get restoreDrillNames(): { readonly family: string; readonly rule: string; readonly task: string; readonly execution: string } {
    return {
      family: this.resourceName('restore-drill'),
      rule: this.resourceName('restore-drill'),
      task: this.resourceName('restore-drill-task'),
      execution: this.resourceName('restore-drill-exec'),
    };
  }

  /**
   * The audit archive bucket, named so both the audit stack (which creates it) and the compute stack (whose roles
   * may write and read its exports) build its ARN without a cross-stack reference. S3 names are global: the
   * account (a token in an account-agnostic stack) keeps it unique; at most 12 + 20 + 12 + 8 characters.
   */
  auditArchiveBucketName(account: string): string {
    return `${this.project}-${this.suffix}-audit-${account}`;
  }

  /** The scheduled export of the audit chain heads: task family, schedule and its two roles. */
  get auditChainNames(): { readonly family: string; readonly rule: string; readonly task: string; readonly execution: string } {
    return {
      family: this.resourceName('audit-chain'),
      rule: this.resourceName('audit-chain'),
      task: this.resourceName('audit-chain-task'),
      execution: this.resourceName('audit-chain-exec'),
    };
  }

  /** The CloudWatch dashboard of the environment. */
  get dashboardName(): string {
    return this.resourceName('operations');
  }
}

/** The build roles of the preview pipelines (fixed, so the sandbox account's roles can trust exactly them). */
export interface PreviewBuildRoleNames {
  /** The one build that changes preview environments: deploy, destroy and sweep, one at a time. */
  readonly operate: string;
  readonly integ: string;
}

/**
 * The preview pipelines: one per trigger kind (a push, a pull request opened or updated, a pull
 * request closed), each only handing its request to `operate`, the queue that runs them one at a time.
 */
/** The operate pipeline's BRANCH when no branch applies (a sweep): pipeline variables cannot be empty. */
export const PREVIEW_NO_BRANCH = '-';

export type PreviewPipelineKind = 'push' | 'pull-request' | 'pull-request-closed' | 'operate';

/**
 * Names of the delivery tooling in the tooling account (the pipeline, the preview pipelines) and of
 * the preview manager role in the sandbox account: one per project, no environment suffix.
 */
export class ToolingNames {
  constructor(public readonly project: string) {
    checkProject(project);
  }

  /** The delivery pipeline's stack, pipeline, notification rule (all `<project>-pipeline`). */
  get pipelineStackName(): string {
    return `${this.project}-pipeline`;
  }

  get pipelineName(): string {
    return this.pipelineStackName;
  }

  get pipelineKeyAlias(): string {
    return `alias/${this.project}/pipeline`;
  }

  get pipelineBuildLogGroupName(): string {
    return `/${this.project}/pipeline/codebuild`;
  }

  get pipelineTopicName(): string {
    return `${this.project}-pipeline-notifications`;
  }

  /** The stack of the preview pipelines in the tooling account. */
  get previewsStackName(): string {
    return `${this.project}-previews`;
  }

  /** `<project>-preview-push`, `-pull-request`, `-pull-request-closed`, `-operate`. */
  previewPipelineName(kind: PreviewPipelineKind): string {
    return `${this.project}-preview-${kind}`;
  }

  /** The CodeBuild project of a preview build. */
  previewProjectName(purpose: 'operate' | 'integ-test'): string {
    return `${this.project}-preview-${purpose}`;
  }

  get previewBuildRoleNames(): PreviewBuildRoleNames {
    return { operate: `${this.project}-preview-operate`, integ: `${this.project}-preview-integ-test` };
  }

  get previewsKeyAlias(): string {
    return `alias/${this.project}/preview-pipelines`;
  }

  get previewsBuildLogGroupName(): string {
    return `/${this.project}/previews/codebuild`;
  }

  /** The stack of the preview manager role, deployed once into the sandbox account. */
  get previewSandboxStackName(): string {
    return `${this.project}-preview-sandbox`;
  }

  /** The sandbox role that lists and deletes preview environments. */
  get previewManagerRoleName(): string {
    return `${this.project}-preview-manager`;
  }

  /** Every preview environment's stack of one layer, as an IAM resource pattern (`<project>-<layer>-br-*`). */
  previewStackPattern(layer: Layer): string {
    return Naming.anyPreview(this.project).stackName(layer);
  }

  /**
   * The customer managed policy `cdk bootstrap --cloudformation-execution-policies` attaches to the
   * CloudFormation execution role of each account (`npm run bootstrap:policy` writes it).
   */
  get executionPolicyName(): string {
    return `${this.project}-cfn-exec`;
  }

  /**
   * The permissions boundary on every role the stacks create and on the execution role itself
   * (`cdk bootstrap --custom-permissions-boundary`), one per account, same name everywhere.
   */
  get permissionsBoundaryName(): string {
    return `${this.project}-permissions-boundary`;
  }

  /** The stack of the shared trail (one per account and region). */
  get sharedTrailNaming(): Naming {
    return new Naming(this.project, SHARED_SUFFIX);
  }
}

/** The tag every preview stack carries (`Preview=true`): tooling finds, and IAM conditions admit, only those. */
export const PREVIEW_TAG = { key: 'Preview', value: 'true' } as const;
