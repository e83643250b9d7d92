import { PERMISSIONS_BOUNDARY_CONTEXT_KEY, RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { WORKLOAD_SUBNETS } from '../../../lib/constructs/isolated-network';
import { SecretRotation } from '../../../lib/constructs/secret-rotation';
import { Naming } from '../../../lib/contract';
import { PipelineAppStage } from '../../../stages/pipeline-app-stage';
import { getAtt, logicalIdOf, statementsOfRole, synthStage, testApp, testConfig, testStack, testVpc } from '../../helpers';

const SECRET_KEY_ARN = 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
const secretArn = (name: string) => ({
  'Fn::Join': ['', ['arn:aws:secretsmanager:eu-west-2:', { Ref: 'AWS::AccountId' }, `:secret:${name}`]],
});
const secretArnPattern = (name: string) => ({
  'Fn::Join': ['', ['arn:aws:secretsmanager:eu-west-2:', { Ref: 'AWS::AccountId' }, `:secret:${name}-??????`]],
});

describe('SecretRotation: the master secret rotated by a function of this project', () => {
  // Production with a customer managed key on the secret, rotated every 10 days.
  const prod = synthStage({
    environmentSuffix: 'rot',
    profile: 'production',
    databaseSecretKeyArn: SECRET_KEY_ARN,
    databaseRotationDays: 10,
  });
  const t = prod.templates.compute;
  const rotation = prod.stage.compute.secretRotation!;
  const SECRET = 'hipaa-fhir/rot/db-credentials';

  test('a schedule on the EXISTING secret, by name, every databaseRotationDays days, calling this function, not on deploy', () => {
    expect(t.findResources('AWS::SecretsManager::RotationSchedule')).toEqual({
      [logicalIdOf(rotation.schedule)]: {
        Type: 'AWS::SecretsManager::RotationSchedule',
        Properties: {
          SecretId: SECRET,
          RotationLambdaARN: getAtt(rotation.function),
          RotationRules: { AutomaticallyAfterDays: 10 },
          RotateImmediatelyOnUpdate: false,
        },
        // Configuring rotation invokes the function: its permission and its role's policies first.
        DependsOn: expect.arrayContaining([
          logicalIdOf(rotation.node.findChild('SecretsManagerInvokes')),
          logicalIdOf(rotation.role),
          logicalIdOf(rotation.role.node.findChild('DefaultPolicy')),
        ]),
      },
    });
    // Nothing creates or writes a secret, and AWS's rotation applications (nested stacks, unbounded roles) are not used.
    for (const template of Object.values(prod.templates)) {
      template.resourceCountIs('AWS::SecretsManager::Secret', 0);
      template.resourceCountIs('AWS::Serverless::Application', 0);
      template.resourceCountIs('AWS::CloudFormation::Stack', 0);
    }
  });

  test('its own named role, under the permissions boundary, with exactly the rotation statements', () => {
    const [role] = Object.values(t.findResources('AWS::IAM::Role', { Properties: { RoleName: 'hipaa-fhir-db-rotation-rot' } }));
    // bin/app.ts sets CDK's boundary context for the whole app; here, on an app of its own.
    const app = testApp();
    app.node.setContext(PERMISSIONS_BOUNDARY_CONTEXT_KEY, { name: 'hipaa-fhir-permissions-boundary' });
    const bounded = new PipelineAppStage(app, 'bounded', { config: testConfig({ environmentSuffix: 'rot' }) });
    const [boundedRole] = Object.values(
      Template.fromStack(bounded.compute).findResources('AWS::IAM::Role', { Properties: { RoleName: 'hipaa-fhir-db-rotation-rot' } }),
    );
    expect(boundedRole.Properties.PermissionsBoundary).toEqual({
      'Fn::Join': ['', ['arn:aws:iam::', { Ref: 'AWS::AccountId' }, ':policy/hipaa-fhir-permissions-boundary']],
    });
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
    ]);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toMatch(
      /service-role\/AWSLambdaBasicExecutionRole.*service-role\/AWSLambdaVPCAccessExecutionRole/,
    );
    expect(role.Properties.ManagedPolicyArns).toHaveLength(2);
    expect(statementsOfRole(t, rotation.role)).toEqual([
      {
        Sid: 'RotateTheMasterSecret',
        Effect: 'Allow',
        Action: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        Resource: secretArnPattern(SECRET),
      },
      { Sid: 'NewPasswords', Effect: 'Allow', Action: 'secretsmanager:GetRandomPassword', Resource: '*' },
      {
        Sid: 'SecretKeyThroughSecretsManager',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: SECRET_KEY_ARN,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-2.amazonaws.com' } },
      },
    ]);
  });

  test('only Secrets Manager, for this account and this secret, may invoke the function', () => {
    expect(Object.values(t.findResources('AWS::Lambda::Permission', { Properties: { FunctionName: getAtt(rotation.function) } }))).toEqual([
      {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          Action: 'lambda:InvokeFunction',
          FunctionName: getAtt(rotation.function),
          Principal: 'secretsmanager.amazonaws.com',
          SourceAccount: { Ref: 'AWS::AccountId' },
          SourceArn: secretArnPattern(SECRET),
        },
      },
    ]);
  });

  test('the processor image in the workload subnets and group, with the database endpoint and the secret from its environment', () => {
    const fn = t.findResources('AWS::Lambda::Function')[logicalIdOf(rotation.function)].Properties;
    expect(fn.FunctionName).toBe('hipaa-fhir-db-rotation-rot');
    expect(fn.PackageType).toBe('Image');
    expect(fn.ImageConfig).toEqual({ Command: ['node', 'dist/processor/rotation/main.js'] });
    expect(fn.Role).toEqual(getAtt(rotation.role));
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Environment.Variables).toEqual({
      DB_HOST: expect.anything(),
      DB_PORT: expect.anything(),
      DB_NAME: 'fhir',
      DB_SSL_MODE: 'verify-full',
      ROTATION_SECRET_ARN: secretArn(SECRET),
      LOG_LEVEL: 'info',
    });
    expect(JSON.stringify(fn.VpcConfig.SubnetIds)).toMatch(/workload/i);
    expect(JSON.stringify(fn.VpcConfig.SecurityGroupIds)).toMatch(/WorkloadSecurityGroup/);
    // The same image as the processor service and the read API: one build.
    const readApi = t.findResources('AWS::Lambda::Function')[logicalIdOf(prod.stage.compute.readApi.function)].Properties;
    expect(fn.Code).toEqual(readApi.Code);
  });

  test('logs into its own CMK-encrypted group with the profile retention, under the processor log key', () => {
    const groups = t.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: '/hipaa-fhir/rot/db-rotation' } });
    const [[groupId, group]] = Object.entries(groups);
    expect(group.Properties).toMatchObject({
      RetentionInDays: 2192,
      KmsKeyId: getAtt(prod.stage.compute.node.findChild('ProcessorLogKey').node.findChild('Key')),
    });
    const fn = t.findResources('AWS::Lambda::Function')[logicalIdOf(rotation.function)].Properties;
    expect(fn.LoggingConfig).toMatchObject({ LogGroup: { Ref: groupId }, LogFormat: 'JSON' });
  });

  test('the AWS managed secret key needs no KMS statement', () => {
    const dev = synthStage({ environmentSuffix: 'rot' });
    const devRotation = dev.stage.compute.secretRotation!;
    expect(statementsOfRole(dev.templates.compute, devRotation.role).map((s) => s.Sid)).toEqual(['RotateTheMasterSecret', 'NewPasswords']);
    dev.templates.compute.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { AutomaticallyAfterDays: 30 } });
  });

  test('no function, role or schedule where rotation is off (databaseRotationDays 0) or RDS manages the password (previews)', () => {
    for (const stage of [synthStage({ environmentSuffix: 'rot', databaseRotationDays: 0 }), synthStage({ branch: 'feature/rotation' })]) {
      expect(stage.stage.compute.secretRotation).toBeUndefined();
      stage.templates.compute.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
      expect(JSON.stringify(stage.templates.compute.toJSON())).not.toContain('db-rotation');
    }
  });

  test('a rotationDays outside Secrets Manager’s 1 to 1000 is refused by name', () => {
    const stack = testStack();
    const vpc = testVpc(stack);
    const props = {
      naming: new Naming('hipaa-fhir', 'rot'),
      vpc,
      subnetGroupName: WORKLOAD_SUBNETS,
      securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
      database: {
        instance: rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Db', {
          instanceIdentifier: 'db',
          instanceEndpointAddress: 'db.example.internal',
          port: 5432,
          securityGroups: [],
        }),
        name: 'fhir',
      },
      secret: secretsmanager.Secret.fromSecretNameV2(stack, 'Secret', SECRET),
      logKey: new kms.Key(stack, 'LogKey'),
      logs: { retentionDays: 7, removalPolicy: RemovalPolicy.DESTROY },
    };
    for (const days of [0, 1001, 2.5])
      expect(() => new SecretRotation(stack, `R${String(days).replace('.', '')}`, { ...props, rotationDays: days })).toThrow(
        `SecretRotation: rotationDays ${days} is out of Secrets Manager's range; use a whole number from 1 to 1000`,
      );
    new SecretRotation(stack, 'Ok', { ...props, rotationDays: 1000 });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { AutomaticallyAfterDays: 1000 },
    });
  });
});
