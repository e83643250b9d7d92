import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards } from '../compliance/wildcards';
import { Naming, PROCESSOR_ENTRY_POINTS, PROCESSOR_ENV } from '../contract';
import { EncryptedLogGroup } from './encrypted-log-group';
import { PROCESSOR_IMAGE_ASSET } from './processor-service';

export interface SecretRotationProps {
  readonly naming: Naming;
  readonly vpc: ec2.IVpc;
  readonly subnetGroupName: string;
  /** Egress to the database and the VPC endpoints (Secrets Manager) only: the workload security group. */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly database: { readonly instance: rds.IDatabaseInstance; readonly name: string };
  /** The EXISTING master secret (JSON `username`, `password`), imported by name. */
  readonly secret: secretsmanager.ISecret;
  /** Its customer managed key. @default - the AWS managed key aws/secretsmanager (no KMS permission needed) */
  readonly secretKey?: kms.IKey;
  /** Days between rotations (Secrets Manager accepts 1 to 1000). */
  readonly rotationDays: number;
  /** Encrypts the function's log group (its key policy must admit the group's name). */
  readonly logKey: kms.IKey;
  readonly logs: { readonly retentionDays: number; readonly removalPolicy: RemovalPolicy };
}

/**
 * Automatic rotation of the EXISTING master secret by a function of this project, single-user strategy
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda.html). AWS's own rotation
 * applications create their role in a nested stack without this project's permissions boundary, which the
 * bootstrap refuses; this one has its role named and bounded like every other, and runs the processor's image
 * (`node dist/processor/rotation/main.js`, lib/processor/rotation) in the workload subnets, where it reaches the
 * database and the Secrets Manager endpoint only.
 */
export class SecretRotation extends Construct {
  public readonly function: lambda.DockerImageFunction;
  public readonly role: iam.Role;
  public readonly schedule: secretsmanager.CfnRotationSchedule;

  constructor(scope: Construct, id: string, props: SecretRotationProps) {
    super(scope, id);
    const { account, region } = Stack.of(this);
    const names = props.naming.secretRotation;
    if (!Number.isInteger(props.rotationDays) || props.rotationDays < 1 || props.rotationDays > 1000)
      throw new Error(
        `SecretRotation: rotationDays ${props.rotationDays} is out of Secrets Manager's range; use a whole number from 1 to 1000`,
      );

    this.role = new iam.Role(this, 'Role', {
      roleName: names.roleName,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Rotates the database master secret of ${props.naming.suffix}: that secret, its key through Secrets Manager, its network interfaces`,
      managedPolicies: ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole'].map((name) =>
        iam.ManagedPolicy.fromAwsManagedPolicyName(`service-role/${name}`),
      ),
    });
    // https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html
    // The secret is imported by name: its ARN ends in a hyphen and six random characters.
    const secretArnPattern = `${props.secret.secretArn}-??????`;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RotateTheMasterSecret',
        actions: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        resources: [secretArnPattern],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'NewPasswords', actions: ['secretsmanager:GetRandomPassword'], resources: ['*'] }),
    );
    if (props.secretKey)
      // Secrets Manager decrypts (GetSecretValue) and encrypts (PutSecretValue) with the key on the function's behalf.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'SecretKeyThroughSecretsManager',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.secretKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
        }),
      );

    const logGroup = new EncryptedLogGroup(this, 'Logs', {
      ...props.logs,
      logGroupName: names.logGroup,
      encryptionKey: props.logKey,
    }).logGroup;
    this.function = new lambda.DockerImageFunction(this, 'Function', {
      functionName: names.functionName,
      description: 'Rotates the database master secret (single user): createSecret, setSecret, testSecret, finishSecret',
      code: lambda.DockerImageCode.fromImageAsset(PROCESSOR_IMAGE_ASSET.directory, {
        ...PROCESSOR_IMAGE_ASSET.options,
        cmd: ['node', PROCESSOR_ENTRY_POINTS.rotateSecret],
      }),
      role: this.role,
      architecture: lambda.Architecture.X86_64,
      memorySize: 256,
      // setSecret may try three logins (10 s connect timeout each) before it changes the password.
      timeout: Duration.minutes(1),
      // Secrets Manager runs one step at a time; a second concurrent run could only race the first.
      reservedConcurrentExecutions: 1,
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: props.subnetGroupName },
      securityGroups: [props.securityGroup],
      allowPublicSubnet: false,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        [PROCESSOR_ENV.dbHost]: props.database.instance.dbInstanceEndpointAddress,
        [PROCESSOR_ENV.dbPort]: props.database.instance.dbInstanceEndpointPort,
        [PROCESSOR_ENV.dbName]: props.database.name,
        [PROCESSOR_ENV.dbSslMode]: 'verify-full',
        [PROCESSOR_ENV.rotationSecretArn]: props.secret.secretArn,
        [PROCESSOR_ENV.logLevel]: 'info',
      },
    });

    // Secrets Manager invokes the function only for this account's secret of this name. AWS recommends
    // aws:SourceAccount; aws:SourceArn is allowed too and ties the function to the one secret it rotates
    // (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html).
    const permission = new lambda.CfnPermission(this, 'SecretsManagerInvokes', {
      action: 'lambda:InvokeFunction',
      functionName: this.function.functionArn,
      principal: 'secretsmanager.amazonaws.com',
      sourceAccount: account,
      sourceArn: secretArnPattern,
    });

    this.schedule = new secretsmanager.CfnRotationSchedule(this, 'Schedule', {
      secretId: props.secret.secretName,
      rotationLambdaArn: this.function.functionArn,
      rotationRules: { automaticallyAfterDays: props.rotationDays },
      // Not on deploy: a rotation started by CloudFormation would change the master password while the same
      // deployment's migration task reads it and CloudFormation resolves it for the instance, and before an operator
      // could have added this function's role to a customer managed key's policy. Secrets Manager instead tests the
      // configuration with the function's testSecret step (on an AWSPENDING version it creates and removes again);
      // the first rotation follows the schedule, or `aws secretsmanager rotate-secret` (docs/deploying.md).
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-rotationschedule.html
      rotateImmediatelyOnUpdate: false,
    });
    // Configuring rotation invokes the function: its permission and its role's policy must exist first.
    this.schedule.node.addDependency(permission, this.role);

    this.acknowledgeFindings();
  }

  private acknowledgeFindings(): void {
    acknowledge(
      this.function,
      ...hipaaAndNist(
        'LambdaDLQ',
        'Secrets Manager invokes each rotation step synchronously, retries a failed step and records the failure on the secret; there is no asynchronous event for a dead-letter queue to keep.',
      ),
    );
    for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
      acknowledge(this.role, {
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        reason:
          'The AWS managed policy Lambda needs to write its own log group and attach its network interfaces in the workload subnets; the rotation grants are the role’s own statements, on the one secret.',
      });
    }
    acknowledge(
      this.role,
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'The rotation statements are written for this one role (the master secret, GetRandomPassword, the secret’s key through Secrets Manager); inline, they cannot be attached to another principal.',
      ),
    );
    acknowledgeWildcards(this.role.node.findChild('DefaultPolicy').node.defaultChild!, [
      [
        /:secret:.*-\?\?\?\?\?\?$/,
        'The one master secret, imported by name: the six wildcard characters are the random suffix Secrets Manager adds to its ARN.',
      ],
      [
        /^Resource::\*$/,
        'secretsmanager:GetRandomPassword acts on no resource (the Service Authorization Reference lists none), so its statement can only name *.',
      ],
    ]);
  }
}
