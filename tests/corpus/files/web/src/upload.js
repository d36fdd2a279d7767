import { S3Client } from '@aws-sdk/client-s3';

export const s3 = new S3Client({
  region: 'eu-central-1',
  credentials: {
    accessKeyId: 'AKIA7GOCF5F53RHBNV7C',
    secretAccessKey: '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',
  },
});

export const APPSYNC_API_KEY = 'da2-e8fyvn9v0k8dtwo5adi2gfeqnx';
