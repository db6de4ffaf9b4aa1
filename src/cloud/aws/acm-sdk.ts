// The only module that imports the ACM SDK client, kept apart from sdk.ts so its chunk loads only
// when `tls --tls managed` (or its removal, or `status` of a deployment that has it) runs.
import {
  ACMClient,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  RequestCertificateCommand,
  type DeleteCertificateCommandInput,
  type DeleteCertificateCommandOutput,
  type DescribeCertificateCommandInput,
  type DescribeCertificateCommandOutput,
  type RequestCertificateCommandInput,
  type RequestCertificateCommandOutput,
} from '@aws-sdk/client-acm';
import type { AwsClientOptions } from './sdk.js';

/** Every ACM call the adapter makes. */
export interface AcmApi {
  requestCertificate(input: RequestCertificateCommandInput): Promise<RequestCertificateCommandOutput>;
  describeCertificate(input: DescribeCertificateCommandInput): Promise<DescribeCertificateCommandOutput>;
  deleteCertificate(input: DeleteCertificateCommandInput): Promise<DeleteCertificateCommandOutput>;
}

export function wrapAcmClient(client: ACMClient): AcmApi {
  return {
    requestCertificate: (input) => client.send(new RequestCertificateCommand(input)),
    describeCertificate: (input) => client.send(new DescribeCertificateCommand(input)),
    deleteCertificate: (input) => client.send(new DeleteCertificateCommand(input)),
  };
}

/** In the deployment's region: an ALB can only use a certificate of its own region. */
export function createAcmApi(opts: AwsClientOptions): AcmApi {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return wrapAcmClient(
    new ACMClient({
      region: opts.region,
      maxAttempts: opts.maxAttempts ?? 8, // as sdk.ts's DEFAULT_MAX_ATTEMPTS
      retryMode: 'standard',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    }),
  );
}
