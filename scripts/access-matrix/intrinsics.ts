/**
 * Resolves CloudFormation intrinsics in policy documents to the concrete strings CloudFormation would
 * produce, for one placement (account, region) per stack. Names CloudFormation generates at deploy time
 * (role names without RoleName, KMS key ids, DbiResourceId) become fixed placeholders derived from the
 * stack and logical id, so the same resource always resolves to the same ARN in every policy.
 */
import { createHash } from 'crypto';
import type { CfnResource, CfnTemplate } from './assembly';

export interface PlacedStack {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly template: CfnTemplate;
}

const PARTITION = 'aws';

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** A value that could not be resolved offline; it never matches a concrete ARN. */
export const UNRESOLVED = '__unresolved__';

export class Resolver {
  private readonly byName: Map<string, PlacedStack>;

  constructor(stacks: readonly PlacedStack[]) {
    this.byName = new Map(stacks.map((s) => [s.stackName, s]));
  }

  stack(stackName: string): PlacedStack | undefined {
    return this.byName.get(stackName);
  }

  /** Deterministic stand-in for a name CloudFormation generates (`<stack>-<logicalId>-<random>`). */
  generatedName(stack: PlacedStack, logicalId: string, max = 64): string {
    return `${stack.stackName}-${logicalId}`.slice(0, max - 13) + `-${hash(stack.stackName + logicalId, 12).toUpperCase()}`;
  }

  /** What `Ref` returns for a resource, per the CloudFormation resource reference pages. */
  ref(stack: PlacedStack, logicalId: string): string {
    const resource = stack.template.Resources?.[logicalId];
    if (!resource) {
      if (logicalId === 'AWS::AccountId') return stack.account;
      if (logicalId === 'AWS::Region') return stack.region;
      if (logicalId === 'AWS::Partition') return PARTITION;
      if (logicalId === 'AWS::URLSuffix') return 'amazonaws.com';
      if (logicalId === 'AWS::StackName') return stack.stackName;
      if (logicalId === 'AWS::StackId') return this.stackArn(stack);
      const parameter = stack.template.Parameters?.[logicalId];
      if (parameter && typeof parameter.Default === 'string') return parameter.Default;
      return UNRESOLVED;
    }
    const p = resource.Properties ?? {};
    const named = (key: string): string => (p[key] !== undefined ? this.str(stack, p[key]) : this.generatedName(stack, logicalId));
    switch (resource.Type) {
      case 'AWS::KMS::Key':
        return this.keyId(stack, logicalId);
      case 'AWS::SNS::Topic':
        return this.arn(stack, 'sns', named('TopicName'));
      case 'AWS::ECS::TaskDefinition':
        return this.arn(stack, 'ecs', `task-definition/${named('Family')}:1`);
      case 'AWS::SecretsManager::Secret':
        return this.arn(stack, 'secretsmanager', `secret:${named('Name')}-AbCdEf`);
      case 'AWS::IAM::Role':
        return named('RoleName');
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${PARTITION}:iam::${stack.account}:policy/${named('ManagedPolicyName')}`;
      case 'AWS::Kinesis::Stream':
        return named('Name');
      case 'AWS::Logs::LogGroup':
        return named('LogGroupName');
      case 'AWS::S3::Bucket':
        return p.BucketName !== undefined ? this.str(stack, p.BucketName) : this.generatedName(stack, logicalId).toLowerCase().slice(0, 63);
      case 'AWS::ECS::Cluster':
        return named('ClusterName');
      case 'AWS::RDS::DBInstance':
        return p.DBInstanceIdentifier !== undefined
          ? this.str(stack, p.DBInstanceIdentifier)
          : this.generatedName(stack, logicalId).toLowerCase();
      case 'AWS::CodeBuild::Project':
        return named('Name');
      case 'AWS::Lambda::Function':
        return named('FunctionName');
      case 'AWS::CodePipeline::Pipeline':
        return named('Name');
      case 'AWS::CloudWatch::Alarm':
        return named('AlarmName');
      case 'AWS::Events::Rule':
        return named('Name');
      default:
        return this.generatedName(stack, logicalId);
    }
  }

  keyId(stack: PlacedStack, logicalId: string): string {
    const h = hash(`${stack.account}/${stack.stackName}/${logicalId}`, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  arn(stack: PlacedStack, service: string, resource: string, opts: { global?: boolean } = {}): string {
    const sep = service === 'sns' || service === 'kms' ? ':' : ':';
    return `arn:${PARTITION}:${service}:${opts.global ? '' : stack.region}${sep}${stack.account}:${resource}`;
  }

  stackArn(stack: PlacedStack): string {
    return this.arn(stack, 'cloudformation', `stack/${stack.stackName}/00000000-0000-4000-8000-000000000000`);
  }

  /** What `Fn::GetAtt` returns, per the CloudFormation resource reference pages. */
  getAtt(stack: PlacedStack, logicalId: string, attribute: string): string {
    const resource: CfnResource | undefined = stack.template.Resources?.[logicalId];
    if (!resource) return UNRESOLVED;
    const ref = this.ref(stack, logicalId);
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::KMS::Key.Arn':
        return this.arn(stack, 'kms', `key/${ref}`);
      case 'AWS::KMS::Key.KeyId':
        return ref;
      case 'AWS::IAM::Role.Arn':
        return `arn:${PARTITION}:iam::${stack.account}:role/${ref}`;
      case 'AWS::IAM::Role.RoleId':
        return `AROA${hash(ref, 17).toUpperCase()}`;
      case 'AWS::Kinesis::Stream.Arn':
        return this.arn(stack, 'kinesis', `stream/${ref}`);
      case 'AWS::Logs::LogGroup.Arn':
        // The LogGroup Arn attribute ends in ":*" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-loggroup.html).
        return this.arn(stack, 'logs', `log-group:${ref}:*`);
      case 'AWS::S3::Bucket.Arn':
        return `arn:${PARTITION}:s3:::${ref}`;
      case 'AWS::SNS::Topic.TopicArn':
        return ref;
      case 'AWS::SNS::Topic.TopicName':
        return ref.split(':').pop() ?? ref;
      case 'AWS::RDS::DBInstance.MasterUserSecret.SecretArn':
        // RDS names the secret it manages rds!db-<uuid> (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html).
        return this.arn(stack, 'secretsmanager', `secret:rds!db-${this.keyId(stack, logicalId)}-AbCdEf`);
      case 'AWS::ECS::Cluster.Arn':
        return this.arn(stack, 'ecs', `cluster/${ref}`);
      case 'AWS::ECS::TaskDefinition.TaskDefinitionArn':
        return ref;
      case 'AWS::RDS::DBInstance.DbiResourceId':
        return `db-${hash(stack.account + ref, 26).toUpperCase()}`;
      case 'AWS::RDS::DBInstance.DBInstanceArn':
        return this.arn(stack, 'rds', `db:${ref}`);
      case 'AWS::RDS::DBInstance.Endpoint.Address':
        return `${ref}.abcdefghijkl.${stack.region}.rds.amazonaws.com`;
      case 'AWS::RDS::DBInstance.Endpoint.Port':
        return '5432';
      case 'AWS::CodeBuild::Project.Arn':
        return this.arn(stack, 'codebuild', `project/${ref}`);
      case 'AWS::Lambda::Function.Arn':
        return this.arn(stack, 'lambda', `function:${ref}`);
      case 'AWS::CloudWatch::Alarm.Arn':
        return this.arn(stack, 'cloudwatch', `alarm:${ref}`);
      case 'AWS::SecretsManager::Secret.Id':
        return ref;
      case 'AWS::CodePipeline::Pipeline.Name':
        return ref;
      case 'AWS::Events::Rule.Arn':
        return this.arn(stack, 'events', `rule/${ref}`);
      case 'AWS::ECR::Repository.Arn':
        return this.arn(stack, 'ecr', `repository/${ref}`);
      default:
        if (attribute === 'Arn') return this.arn(stack, resource.Type.split('::')[1].toLowerCase(), ref);
        return `${ref}.${attribute}`;
    }
  }

  /** Resolves a value that must be a string; lists join with commas as CloudFormation does for Ref of lists. */
  str(stack: PlacedStack, value: unknown): string {
    const resolved = this.resolve(stack, value);
    if (typeof resolved === 'string') return resolved;
    if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
    if (Array.isArray(resolved)) return resolved.join(',');
    return UNRESOLVED;
  }

  /** Resolves every intrinsic in a JSON value (policy documents, resource lists, properties). */
  resolve(stack: PlacedStack, value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(stack, v)).filter((v) => v !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0];
      const intrinsic = this.intrinsic(stack, fn, arg);
      if (intrinsic !== NOT_INTRINSIC) return intrinsic;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const r = this.resolve(stack, v);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  private intrinsic(stack: PlacedStack, fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        return arg === 'AWS::NoValue' ? NO_VALUE : this.ref(stack, String(arg));
      case 'Fn::GetAtt': {
        const [logicalId, ...attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
        return this.getAtt(stack, logicalId, attr.join('.'));
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown];
        const list = this.resolve(stack, parts);
        return Array.isArray(list) ? list.map((p) => (typeof p === 'string' ? p : UNRESOLVED)).join(sep) : UNRESOLVED;
      }
      case 'Fn::Sub':
        return this.sub(stack, arg);
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const items = this.resolve(stack, list);
        return Array.isArray(items) ? (items[Number(this.resolve(stack, index))] ?? UNRESOLVED) : UNRESOLVED;
      }
      case 'Fn::Split': {
        const [sep, source] = arg as [string, unknown];
        return this.str(stack, source).split(sep);
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = arg as [string, unknown, unknown];
        return this.resolve(stack, this.condition(stack, condition) ? whenTrue : whenFalse);
      }
      case 'Fn::ImportValue':
        return this.importValue(this.str(stack, arg));
      case 'Fn::GetStackOutput': {
        // Weak cross-stack reference: the producer's output as of the consumer's deploy.
        const { StackName, OutputName } = arg as { StackName: unknown; OutputName: unknown };
        return this.output(this.str(stack, StackName), this.str(stack, OutputName));
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((z) => `${stack.region}${z}`);
      case 'Fn::Base64':
        return this.str(stack, arg);
      case 'Condition':
        return this.condition(stack, String(arg));
      case 'Fn::Equals': {
        const [a, b] = this.resolve(stack, arg) as [unknown, unknown];
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Fn::Not':
        return !(this.resolve(stack, (arg as unknown[])[0]) as boolean);
      case 'Fn::And':
        return (arg as unknown[]).every((c) => this.resolve(stack, c) === true);
      case 'Fn::Or':
        return (arg as unknown[]).some((c) => this.resolve(stack, c) === true);
      case 'Fn::Contains': {
        const [list, item] = this.resolve(stack, arg) as [unknown[], unknown];
        return Array.isArray(list) && list.includes(item);
      }
      default:
        return NOT_INTRINSIC;
    }
  }

  condition(stack: PlacedStack, name: string): boolean {
    const definition = stack.template.Conditions?.[name];
    return definition === undefined ? true : this.resolve(stack, definition) === true;
  }

  private sub(stack: PlacedStack, arg: unknown): string {
    const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_m, name: string) => {
      if (vars[name] !== undefined) return this.str(stack, vars[name]);
      if (name.includes('.')) {
        const [logicalId, ...attr] = name.split('.');
        return this.getAtt(stack, logicalId, attr.join('.'));
      }
      return this.ref(stack, name);
    });
  }

  output(stackName: string, outputName: string): string {
    const producer = this.byName.get(stackName);
    const output = producer?.template.Outputs?.[outputName];
    return producer && output ? this.str(producer, output.Value) : UNRESOLVED;
  }

  private importValue(exportName: string): string {
    for (const producer of this.byName.values()) {
      for (const output of Object.values(producer.template.Outputs ?? {})) {
        if (output.Export && this.str(producer, output.Export.Name) === exportName) return this.str(producer, output.Value);
      }
    }
    return UNRESOLVED;
  }
}

const NO_VALUE = Symbol('AWS::NoValue');
const NOT_INTRINSIC = Symbol('not an intrinsic');
