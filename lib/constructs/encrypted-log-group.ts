import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface EncryptedLogGroupProps {
  readonly logGroupName: string;
  /** A key whose policy lets CloudWatch Logs use it for this group (see EncryptionKey). */
  readonly encryptionKey: kms.IKey;
  /** One of the values CloudWatch Logs accepts (7, 30, 365, 2192, ...). */
  readonly retentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/** A CloudWatch log group encrypted with a CMK, with explicit retention and removal policy. */
export class EncryptedLogGroup extends Construct {
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: EncryptedLogGroupProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: props.logGroupName,
      encryptionKey: props.encryptionKey,
      retention: props.retentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
  }
}
