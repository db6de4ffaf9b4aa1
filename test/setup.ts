// Runs in every test worker before any test file. The hard rule: no traffic leaves the machine.
// Dummy credentials and a disabled metadata service keep the AWS SDK's credential chain from
// probing 169.254.x; a dead default endpoint means a client someone forgot to point at moto fails
// fast instead of reaching AWS.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
process.env.AWS_SESSION_TOKEN = '';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ENDPOINT_URL ??= 'http://127.0.0.1:9';
process.env.METADATA_SERVER_DETECTION = 'none';
delete process.env.AWS_PROFILE;
