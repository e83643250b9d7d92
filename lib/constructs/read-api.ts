import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards } from '../compliance/wildcards';
import { API_DB_USER, Naming, PROCESSOR_ENTRY_POINTS, PROCESSOR_ENV } from '../contract';
import { EncryptedLogGroup } from './encrypted-log-group';
import { PROCESSOR_IMAGE_ASSET } from './processor-service';

/** The stage every reader calls (`<api>/v1/Patient/...`). */
export const READ_API_STAGE = 'v1';

/**
 * The access log line: who called (principal ARN), the route template and status, never the path
 * or the query string. Paths hold resource and patient ids and queries hold `patient=`; those are
 * audited in the database (audit_event), which is PHI storage, not in a log. `$context.resourcePath`
 * is the template (`/{proxy+}`), not the requested path.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html
 */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTimeEpoch',
  caller: '$context.identity.userArn',
  sourceIp: '$context.identity.sourceIp',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationLatency: '$context.integration.latency',
  errorMessage: '$context.error.message',
} as const;

export interface ReadApiProps {
  readonly naming: Naming;
  readonly vpc: ec2.IVpc;
  readonly subnetGroupName: string;
  /** Egress to the database (PostgreSQL) only; the function calls no AWS API (the IAM token is signed locally). */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly database: { readonly instance: rds.IDatabaseInstance; readonly name: string };
  /** Encrypts both log groups (its key policy must admit their names). */
  readonly logKey: kms.IKey;
  readonly logs: { readonly retentionDays: number; readonly removalPolicy: RemovalPolicy };
  /** Principals allowed to assume the reader role (cdk.json `readers`, and the post-deploy role where it reads back). */
  readonly readers: readonly iam.IPrincipal[];
  /**
   * Requests served at once: each holds one database session, so this bounds the API's connections.
   * @default 10
   */
  readonly maxConcurrency?: number;
}

/**
 * The FHIR read API of one environment: an API Gateway REST API whose every method needs IAM
 * (SigV4) authorization, proxying to a Lambda function in the isolated workload subnets that reads
 * the database as its own login (fhir_api, IAM database authentication) and audits every request.
 * The function runs the processor's image (`node dist/processor/api/lambda.js`, its own Runtime API
 * client: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), so no second build and no
 * Docker at synth. The reader role, when there is anyone to trust, may call its GET methods only.
 */
export class ReadApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly function: lambda.DockerImageFunction;
  public readonly readerRole?: iam.Role;

  constructor(scope: Construct, id: string, props: ReadApiProps) {
    super(scope, id);
    const { naming } = props;
    const names = naming.readApi;

    const functionLogs = new EncryptedLogGroup(this, 'FunctionLogs', {
      ...props.logs,
      logGroupName: names.functionLogGroup,
      encryptionKey: props.logKey,
    }).logGroup;
    this.function = new lambda.DockerImageFunction(this, 'Function', {
      functionName: names.name,
      description: 'FHIR read API: read, vread, history, search by patient, Patient/$everything; every request audited',
      code: lambda.DockerImageCode.fromImageAsset(PROCESSOR_IMAGE_ASSET.directory, {
        ...PROCESSOR_IMAGE_ASSET.options,
        cmd: ['node', PROCESSOR_ENTRY_POINTS.readApi],
      }),
      architecture: lambda.Architecture.X86_64,
      memorySize: 512,
      // API Gateway's integration timeout is 29 s: the function must answer before it.
      timeout: Duration.seconds(28),
      reservedConcurrentExecutions: props.maxConcurrency ?? 10,
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: props.subnetGroupName },
      securityGroups: [props.securityGroup],
      allowPublicSubnet: false,
      logGroup: functionLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        // AWS_REGION is Lambda's own (reserved); the rest as the processor reads them (lib/contract/processor.ts).
        [PROCESSOR_ENV.dbHost]: props.database.instance.dbInstanceEndpointAddress,
        [PROCESSOR_ENV.dbPort]: props.database.instance.dbInstanceEndpointPort,
        [PROCESSOR_ENV.dbName]: props.database.name,
        [PROCESSOR_ENV.dbUser]: API_DB_USER,
        [PROCESSOR_ENV.dbIamAuth]: 'true',
        [PROCESSOR_ENV.dbSslMode]: 'verify-full',
        [PROCESSOR_ENV.logLevel]: 'info',
      },
    });
    // rds-db:connect as fhir_api on this instance only.
    props.database.instance.grantConnect(this.function, API_DB_USER);

    const accessLogs = new EncryptedLogGroup(this, 'AccessLogs', {
      ...props.logs,
      logGroupName: names.accessLogGroup,
      encryptionKey: props.logKey,
    }).logGroup;
    this.api = new apigw.LambdaRestApi(this, 'Api', {
      restApiName: names.name,
      description: `FHIR read API of ${naming.suffix} (IAM authorization)`,
      handler: this.function,
      proxy: true,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      // The account-wide CloudWatch role is one per account and region; execution logs are not used (see below).
      cloudWatchRole: false,
      disableExecuteApiEndpoint: false,
      deployOptions: {
        stageName: READ_API_STAGE,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        loggingLevel: apigw.MethodLoggingLevel.OFF,
        dataTraceEnabled: false,
        tracingEnabled: false,
        // Bounds what one caller can make the database do.
        throttlingRateLimit: 50,
        throttlingBurstLimit: 100,
      },
    });

    // The stack publishes the URL under the contract's key (ReadApiUrl), not CDK's generated one.
    this.api.node.tryRemoveChild('Endpoint');

    if (props.readers.length > 0) {
      this.readerRole = new iam.Role(this, 'ReaderRole', {
        roleName: naming.readerRoleName,
        description: `Reads PHI of ${naming.suffix} through the FHIR read API (GET only), and nothing else`,
        assumedBy: new iam.CompositePrincipal(...props.readers),
        maxSessionDuration: Duration.hours(1),
      });
      // execute-api:Invoke on this API's stage, GET methods only; no other permission at all.
      this.readerRole.addToPolicy(
        new iam.PolicyStatement({
          sid: 'InvokeReadApi',
          actions: ['execute-api:Invoke'],
          resources: [this.api.arnForExecuteApi('GET', '/*', READ_API_STAGE)],
        }),
      );
    }

    this.acknowledgeFindings();
  }

  /** The URL readers call: `https://<id>.execute-api.<region>.amazonaws.com/v1/`. */
  get url(): string {
    return this.api.url;
  }

  private acknowledgeFindings(): void {
    const stage = this.api.deploymentStage;
    acknowledge(
      stage,
      ...hipaaAndNist(
        'APIGWCacheEnabledAndEncrypted',
        'Responses are FHIR resources (PHI) read under each caller’s own identity and audited per request; they are not cached, so no cache holds PHI and every read reaches the audit.',
      ),
      ...hipaaAndNist(
        'APIGWExecutionLoggingEnabled',
        'Execution logs would record request paths and parameters (patient and resource ids) and need the account-wide API Gateway CloudWatch role; the stage writes a CMK-encrypted access log with the caller ARN, route template and status, and the function audits every request in audit_event.',
      ),
      ...hipaaAndNist(
        'APIGWSSLEnabled',
        'The integration is a Lambda proxy (AWS_PROXY), not an HTTP backend: there is no backend endpoint to present a client certificate to; clients reach the API over TLS only.',
      ),
      ...hipaaAndNist(
        'APIGWXrayEnabled',
        'X-Ray segments would carry request URLs (patient and resource ids) outside the audited store; latency and errors are in the access log and the function’s metrics.',
      ),
      { id: 'NIST.800.53.R5-APIGWAssociatedWithWAF', reason: WAF_REASON },
      { id: 'AwsSolutions-APIG3', reason: WAF_REASON },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution (CloudWatch) logging is off so that no log holds request paths or parameters (PHI identifiers); the access log records every request with its caller ARN, and audit_event records what was read.',
      },
    );
    acknowledge(this.api, {
      id: 'AwsSolutions-APIG2',
      reason:
        'Every request is validated by the function before any read (route, FHIR ids, parameters, _count and _offset ranges), refused with a FHIR OperationOutcome and audited; a request model would duplicate that with less precise errors.',
    });
    for (const method of this.api.methods) {
      acknowledge(method, {
        id: 'AwsSolutions-COG4',
        reason:
          'Callers are AWS principals authorized with IAM (SigV4) and the reader role; a Cognito user pool would be a second identity store.',
      });
    }
    acknowledge(
      this.function,
      ...hipaaAndNist(
        'LambdaDLQ',
        'Invoked synchronously by API Gateway only: a failed request is answered with an error (and audited), never retried asynchronously, so there is nothing for a dead-letter queue to hold.',
      ),
    );
    const role = this.function.role!;
    for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
      acknowledge(role, {
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        reason:
          'The AWS managed policy Lambda needs to write its own log group and attach its network interfaces in the workload subnets; the function’s own grant is rds-db:connect as fhir_api on one instance.',
      });
    }
    acknowledge(
      role,
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'CDK grants write this policy for one role: rds-db:connect as fhir_api on this instance; inline, it cannot be attached elsewhere.',
      ),
    );
    if (this.readerRole) {
      acknowledge(
        this.readerRole,
        ...hipaaAndNist(
          'IAMNoInlinePolicy',
          'One statement for one role: execute-api:Invoke on this API’s GET methods; inline, it cannot be attached to another principal.',
        ),
      );
      acknowledgeWildcards(this.readerRole.node.findChild('DefaultPolicy').node.defaultChild!, [
        [
          /:execute-api:.*\/v1\/GET\/\*$/,
          'GET on every path of this one API stage: the paths are FHIR resource types and ids, so the wildcard is the set of readable resources, and the method is fixed.',
        ],
      ]);
    }
  }
}

const WAF_REASON =
  'Every method requires IAM (SigV4) authorization, so anonymous traffic is refused by API Gateway before any code runs, and stage throttling bounds each account; a web ACL adds no control over signed calls from the few trusted reader principals.';
