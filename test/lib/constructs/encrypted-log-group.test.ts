import { RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { EncryptedLogGroup } from '../../../lib/constructs/encrypted-log-group';
import { getAtt, testStack } from '../../helpers';

describe('EncryptedLogGroup', () => {
  const stack = testStack();
  const key = new kms.Key(stack, 'Key');
  new EncryptedLogGroup(stack, 'Short', {
    logGroupName: '/hipaa-fhir/dev/short',
    encryptionKey: key,
    retentionDays: 7,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  new EncryptedLogGroup(stack, 'Long', {
    logGroupName: '/hipaa-fhir/prod/long',
    encryptionKey: key,
    retentionDays: 2192,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const template = Template.fromStack(stack);

  test('the group is encrypted with the given key, under the given name, with the given retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/dev/short',
      KmsKeyId: getAtt(key),
      RetentionInDays: 7,
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/prod/long',
      KmsKeyId: getAtt(key),
      RetentionInDays: 2192,
    });
  });

  test('the removal policy is the one given: deleted with the stack, or kept', () => {
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/hipaa-fhir/dev/short' },
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/hipaa-fhir/prod/long' },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});
