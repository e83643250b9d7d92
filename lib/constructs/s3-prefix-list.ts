import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge, deployHookFindings, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards } from '../compliance/wildcards';

/**
 * The id (`pl-…`) of the region's AWS-managed prefix list for S3, the destination a security group names to
 * reach S3 through a gateway endpoint (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html,
 * "Security"). The id differs per region and partition and CloudFormation exposes it on no resource, so it is
 * read at deploy time with DescribeManagedPrefixLists, filtered by the list's name, which is the gateway
 * endpoint's service name (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeManagedPrefixLists.html;
 * https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html). A context
 * look-up (`PrefixList.fromLookup`) would make synth need credentials.
 */
export interface S3PrefixListIdProps {
  /** Where the look-up function logs: a CMK-encrypted group (otherwise CDK creates an unencrypted one). */
  readonly logGroup: logs.ILogGroup;
}

export class S3PrefixListId extends Construct {
  public readonly prefixListId: string;

  constructor(scope: Construct, id: string, props: S3PrefixListIdProps) {
    super(scope, id);
    const name = ec2.GatewayVpcEndpointAwsService.S3.name;
    const lookup = new cr.AwsCustomResource(this, 'Lookup', {
      resourceType: 'Custom::S3PrefixListId',
      onUpdate: {
        service: 'EC2',
        action: 'DescribeManagedPrefixLists',
        parameters: { Filters: [{ Name: 'prefix-list-name', Values: [name] }] },
        physicalResourceId: cr.PhysicalResourceId.of(name),
        outputPaths: ['PrefixLists.0.PrefixListId'],
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['ec2:DescribeManagedPrefixLists'], resources: ['*'] }),
      ]),
      // The runtime's bundled SDK has the call; downloading the latest one needs internet access and a bigger function.
      installLatestAwsSdk: false,
      logGroup: props.logGroup,
    });
    this.prefixListId = lookup.getResponseField('PrefixLists.0.PrefixListId');

    // AwsCustomResource's handler: one per stack, whoever creates it (its id is CDK's fixed singleton id).
    acknowledge(
      Stack.of(this).node.findChild('AWS679f53fac002430cb0da5b7982bd2287'),
      ...deployHookFindings(
        'It reads the id of an AWS-managed prefix list from the EC2 API, once per deployment; it never touches PHI and needs the public EC2 endpoint, which the isolated VPC does not offer.',
      ),
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The AWS-managed basic execution policy only lets the function write its own CloudWatch logs (into the encrypted custom-resources group).',
      },
    );
    const policy = lookup.node.findChild('CustomResourcePolicy');
    acknowledge(
      policy,
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'CDK writes this policy for the one look-up function: DescribeManagedPrefixLists, a read of public prefix-list metadata.',
      ),
    );
    acknowledgeWildcards(policy.node.defaultChild!, [
      [
        /^Resource::\*$/,
        'ec2:DescribeManagedPrefixLists supports no resource-level permissions; it returns prefix-list names and ids, no data.',
      ],
    ]);
  }
}
