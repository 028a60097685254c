/* creds.h — AWS credentials, region and endpoints, resolved the way the
 * AWS CLI resolves them, into a struct i2k_aws (client.h).
 *
 * Credentials, first that yields a key pair:
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) —
 *      skipped when a profile is given explicitly (--profile), as the CLI
 *      does; AWS_PROFILE does not skip them.
 *   2. the profile (--profile, else AWS_PROFILE, else "default") from
 *      ~/.aws/config ([profile NAME] or [default]; AWS_CONFIG_FILE) and
 *      ~/.aws/credentials ([NAME]; AWS_SHARED_CREDENTIALS_FILE), the latter
 *      winning for the key settings:
 *        role_arn + source_profile (or credential_source = Environment |
 *        Ec2InstanceMetadata) → STS AssumeRole with the source's
 *        credentials (role_session_name, external_id, duration_seconds
 *        honoured; chains of source profiles up to 5 deep);
 *        else aws_access_key_id + aws_secret_access_key
 *        (+ aws_session_token).
 *      An explicit profile that exists in neither file is an error.
 *   3. EC2 instance metadata, IMDSv2 only: PUT /latest/api/token (TTL 21600
 *      s), then /latest/meta-data/iam/security-credentials/ and its first
 *      role; base URL AWS_EC2_METADATA_SERVICE_ENDPOINT (default
 *      http://169.254.169.254), 1 s timeout (AWS_METADATA_SERVICE_TIMEOUT);
 *      AWS_EC2_METADATA_DISABLED=true turns it off.
 * None found: I2K_ERR_AUTH "no AWS credentials found (tried ...)".
 *
 * Region: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region,
 * then (only when the credentials came from instance metadata) the
 * instance's region; none: I2K_ERR_USAGE.
 *
 * Endpoints, per service (ec2, ebs, sts, cloudformation, elasticloadbalancing,
 * autoscaling): --endpoint-url (all services), AWS_ENDPOINT_URL_EC2 / _EBS /
 * _STS / _CLOUDFORMATION / _ELASTIC_LOAD_BALANCING_V2 / _AUTO_SCALING,
 * AWS_ENDPOINT_URL, the profile's endpoint_url, else
 * https://SERVICE.REGION.amazonaws.com (.amazonaws.com.cn in cn-*).
 * Also read: AWS_MAX_ATTEMPTS (retries, client.h), AWS_CA_BUNDLE.
 *
 * Secrets are never logged: debug lines name the source and show only the
 * last 4 characters of the access key id.
 */
#ifndef I2K_PROVISION_AWS_CREDS_H
#define I2K_PROVISION_AWS_CREDS_H

#include "builder/base/error.h"
#include "provision/aws/client.h"

struct i2k_aws_opts {
	const char *profile;	  /* --profile or NULL */
	const char *region;	  /* --region or NULL */
	const char *endpoint_url; /* --endpoint-url or NULL */
	i2k_aws_log_fn debug;	  /* --debug lines or NULL */
	void *debug_ctx;
};

/* Fills *a (zeroed first; release with i2k_aws_clear). */
int i2k_aws_resolve(const struct i2k_aws_opts *o, struct i2k_aws *a, struct i2k_error **err);

/* "****WXYZ" form of an access key id for messages (static buffer per
 * thread). */
const char *i2k_aws_key_hint(const char *access_key_id);

#endif
