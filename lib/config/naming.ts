import { ConfigError } from './errors';

/** The stack layers of one environment, in deployment order. */
export type Layer = 'network' | 'data' | 'audit' | 'compute';

/** The longest suffix we accept; keeps every name built below within its service limit. */
export const MAX_SUFFIX_LENGTH = 20;
/** Suffix of the account-wide resources shared by every environment (the shared trail). */
export const SHARED_SUFFIX = 'shared';

/** The longest project name we accept (see MAX_SUFFIX_LENGTH). */
export const MAX_PROJECT_LENGTH = 12;

const SUFFIX_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const PROJECT_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

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

/**
 * Builds every physical name in the product. Each name contains the project and the
 * environmentSuffix, so environments never collide in one account and every resource
 * can be traced to its environment by name alone.
 */
export class Naming {
  /**
   * The suffix that makes every name an IAM pattern matching per-branch environments only: every
   * per-branch suffix starts with `br-` (BRANCH_SUFFIX_PREFIX) and no long-lived one may, so
   * `<project>-cluster-br-*` can never match `dev`, `prod` or any configured environment.
   */
  static readonly ANY_BRANCH = 'br-*';

  /** Names as IAM patterns (`<project>-cluster-br-*`, ...) over every per-branch environment, and nothing else. */
  static anyBranch(project: string): Naming {
    return new Naming(project, Naming.ANY_BRANCH);
  }

  constructor(
    public readonly project: string,
    public readonly suffix: string,
  ) {
    const p = projectProblem(project);
    if (p) throw new ConfigError(`project "${project}" is invalid: ${p}`);
    const s = suffix === Naming.ANY_BRANCH ? undefined : suffixProblem(suffix);
    if (s) throw new ConfigError(`environmentSuffix "${suffix}" is invalid: ${s}`);
  }

  /** `<project>-<layer>-<suffix>`, the CloudFormation stack name. */
  stackName(layer: Layer): string {
    return this.check(`${this.project}-${layer}-${this.suffix}`, 'stack');
  }

  /** `<project>-<purpose>-<suffix>` for resources that need a fixed name. */
  resourceName(purpose: string): string {
    return this.check(`${this.project}-${purpose}-${this.suffix}`, 'generic');
  }

  /** The RDS instance identifier; RDS derives its log group names from it (see rdsLogGroupName). */
  get dbInstanceIdentifier(): string {
    return this.check(`${this.project}-db-${this.suffix}`, 'dbInstance');
  }

  /** The Kinesis stream that ingests FHIR records. */
  get streamName(): string {
    return this.check(`${this.project}-records-${this.suffix}`, 'stream');
  }

  /** Every stream of this project starts with this; the shared trail selects data events by it. */
  static streamNamePrefix(project: string): string {
    return `${project}-records-`;
  }

  /** A log group under `/<project>/<suffix>/`. */
  logGroupName(path: string): string {
    return this.check(`/${this.project}/${this.suffix}/${path}`, 'logGroup');
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

  get processorLogGroupName(): string {
    return this.logGroupName('processor');
  }

  get streamKeyAlias(): string {
    return this.kmsAlias('stream');
  }

  kmsAlias(purpose: string): string {
    return this.check(`alias/${this.project}/${this.suffix}/${purpose}`, 'kmsAlias');
  }

  get trailName(): string {
    return this.check(`${this.project}-trail-${this.suffix}`, 'trail');
  }

  topicName(purpose: string): string {
    return this.check(`${this.project}-${purpose}-${this.suffix}`, 'topic');
  }

  private check(name: string, kind: keyof typeof LIMITS): string {
    if (name.length > LIMITS[kind]) {
      throw new ConfigError(`name "${name}" is ${name.length} characters; ${kind} names allow ${LIMITS[kind]}: shorten project or environmentSuffix`);
    }
    return name;
  }
}
