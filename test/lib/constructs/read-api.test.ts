import { Match } from 'aws-cdk-lib/assertions';
import { ACCESS_LOG_FIELDS, READ_API_STAGE } from '../../../lib/constructs/read-api';
import { ComputeStack } from '../../../lib/stacks/compute-stack';
import { logicalIdOf, statementsOfRole, synthStage } from '../../helpers';

const READER = 'arn:aws:iam::999999999999:role/clinical-app';

describe('ReadApi: the FHIR read API of an environment', () => {
  const withReaders = synthStage({ environmentSuffix: 'rda', readers: [READER] });
  const t = withReaders.templates.compute;
  const compute = withReaders.stage.stacks.compute as ComputeStack;

  test('every method of the REST API needs IAM (SigV4) authorization', () => {
    const methods = Object.values(t.findResources('AWS::ApiGateway::Method'));
    expect(methods.length).toBeGreaterThanOrEqual(2);
    for (const m of methods) expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
    t.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Name: 'hipaa-fhir-read-api-rda',
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });

  test('the access log records the caller, route template and status, never the path or the query string', () => {
    const [stage] = Object.values(t.findResources('AWS::ApiGateway::Stage'));
    expect(stage.Properties.StageName).toBe(READ_API_STAGE);
    const format = JSON.parse(stage.Properties.AccessLogSetting.Format);
    expect(format).toEqual(ACCESS_LOG_FIELDS);
    expect(format.caller).toBe('$context.identity.userArn');
    // $context.path and $context.requestOverride... would hold resource and patient ids.
    expect(stage.Properties.AccessLogSetting.Format).not.toMatch(/\$context\.(path|requestPath|domainPrefix)|querystring|\$input/i);
    expect(stage.Properties.MethodSettings).toEqual([expect.objectContaining({ LoggingLevel: 'OFF', DataTraceEnabled: false })]);
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/rda/audit/read-api-access', KmsKeyId: Match.anyValue() });
  });

  test('the function runs the processor image as fhir_api with IAM auth and verify-full TLS, in the workload subnets', () => {
    const fn = t.findResources('AWS::Lambda::Function')[logicalIdOf(compute.readApi.function)].Properties;
    expect(fn.PackageType).toBe('Image');
    expect(fn.ImageConfig).toEqual({ Command: ['node', 'dist/processor/api/lambda.js'] });
    expect(fn.Environment.Variables).toMatchObject({ DB_USER: 'fhir_api', DB_IAM_AUTH: 'true', DB_SSL_MODE: 'verify-full' });
    expect(fn.Environment.Variables.DB_PASSWORD).toBeUndefined();
    expect(fn.VpcConfig.SubnetIds).toHaveLength(2);
    expect(JSON.stringify(fn.VpcConfig.SubnetIds)).toMatch(/workload/i);
    expect(fn.ReservedConcurrentExecutions).toBe(10);
    // The same image asset as the processor: one build.
    const processorImage = JSON.stringify(
      Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions[0].Image,
    );
    expect(JSON.stringify(fn.Code.ImageUri).split(':').pop()).toBe(processorImage.split(':').pop());
  });

  test('the reader role is trusted by the configured principals and may only invoke GET on this API stage', () => {
    const role = compute.readApi.readerRole!;
    const [resource] = Object.values(t.findResources('AWS::IAM::Role', { Properties: { RoleName: 'hipaa-fhir-reader-rda' } }));
    expect(resource.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: READER } },
    ]);
    expect(resource.Properties.ManagedPolicyArns).toBeUndefined();
    expect(statementsOfRole(t, role)).toEqual([
      {
        Sid: 'InvokeReadApi',
        Effect: 'Allow',
        Action: 'execute-api:Invoke',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:aws:execute-api:eu-west-2:', { Ref: 'AWS::AccountId' }, ':', { Ref: logicalIdOf(compute.readApi.api) }, '/v1/GET/*'],
          ],
        },
      },
    ]);
    t.hasOutput('ReaderRoleArn', { Value: { 'Fn::GetAtt': [logicalIdOf(role), 'Arn'] } });
    t.hasOutput('ReadApiUrl', {});
  });

  test('with no readers and no post-deploy read-back there is no reader role, and the URL is still published', () => {
    const none = synthStage({ environmentSuffix: 'rdb' }).templates.compute;
    expect(none.findResources('AWS::IAM::Role', { Properties: { RoleName: 'hipaa-fhir-reader-rdb' } })).toEqual({});
    expect(Object.keys(none.findOutputs('ReaderRoleArn'))).toEqual([]);
    none.hasOutput('ReadApiUrl', {});
  });
});
