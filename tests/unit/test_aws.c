/* test_aws.c — provision/aws: credential chain (env, profiles, assume-role,
 * IMDSv2), response and error parsing, retries, and the EBS block sink,
 * against a tiny HTTP server in this process (a thread per connection) that
 * plays IMDS, STS, EC2 and EBS and records what it received. Also the disk
 * image reader (formats/container/reader.c) over i2kit's own qcow2/VHD
 * writers and corrupt headers. */
#include "tests/unit/test.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/container/container.h"
#include "formats/container/reader.h"
#include "formats/container/vhd.h"
#include "provision/aws/creds.h"
#include "provision/aws/ebs.h"
#include "provision/aws/ec2.h"
#include "provision/aws/push.h"

/* --- a tiny HTTP server ------------------------------------------------------ */

struct req {
	char method[16];
	char path[1024];
	char headers[8192]; /* raw header block, lower-cased names */
	char *body;
	size_t body_len;
};

struct resp {
	int status;
	char headers[1024]; /* extra "Name: value\r\n" lines */
	struct i2k_buf body;
	bool reset; /* close without answering */
};

typedef void (*handler_fn)(const struct req *q, struct resp *r, void *ctx);

struct server {
	int lfd, port;
	pthread_t th;
	handler_fn h;
	void *ctx;
	volatile int stop;
	pthread_mutex_t mu; /* serialises handler calls */
	char log[1 << 16];  /* "METHOD PATH\n" of every request */
	size_t log_len;
};

struct conn_arg {
	struct server *s;
	int fd;
};

static bool read_request(int fd, struct req *q)
{
	char buf[16384];
	size_t len = 0;
	char *end = NULL;
	while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
		if (len == sizeof(buf))
			return false;
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
	}
	size_t hl = (size_t)(end - buf) + 4;
	memset(q, 0, sizeof(*q));
	if (sscanf(buf, "%15s %1023s", q->method, q->path) != 2)
		return false;
	char *nl = memchr(buf, '\n', hl);
	size_t hlen = hl - (size_t)(nl + 1 - buf);
	if (hlen >= sizeof(q->headers))
		hlen = sizeof(q->headers) - 1;
	memcpy(q->headers, nl + 1, hlen);
	for (char *p = q->headers; *p; p++) { /* lower-case names */
		char *c = strchr(p, ':'), *e = strchr(p, '\n');
		if (!c || !e)
			break;
		for (char *k = p; k < c; k++)
			*k = (char)tolower((unsigned char)*k);
		p = e;
	}
	size_t cl = 0;
	char *h = strstr(q->headers, "content-length:");
	if (h)
		cl = strtoul(h + 15, NULL, 10);
	q->body = malloc(cl + 1);
	size_t have = len - hl < cl ? len - hl : cl;
	memcpy(q->body, buf + hl, have);
	while (have < cl) {
		ssize_t n = read(fd, q->body + have, cl - have);
		if (n <= 0) {
			free(q->body);
			return false;
		}
		have += (size_t)n;
	}
	q->body[cl] = '\0';
	q->body_len = cl;
	return true;
}

static void *conn_main(void *arg)
{
	struct conn_arg *ca = arg;
	struct server *s = ca->s;
	int fd = ca->fd;
	free(ca);
	struct req q;
	while (read_request(fd, &q)) {
		struct resp r = {.status = 200};
		pthread_mutex_lock(&s->mu);
		int n = snprintf(s->log + s->log_len, sizeof(s->log) - s->log_len, "%s %s\n",
				 q.method, q.path);
		if (n > 0 && s->log_len + (size_t)n < sizeof(s->log))
			s->log_len += (size_t)n;
		s->h(&q, &r, s->ctx);
		pthread_mutex_unlock(&s->mu);
		free(q.body);
		if (r.reset) {
			struct linger l = {1, 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			i2k_buf_free(&r.body);
			break;
		}
		char head[2048];
		int hn =
		    snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
			     r.status, r.body.len, r.headers);
		if (write(fd, head, (size_t)hn) < 0 ||
		    (r.body.len && write(fd, r.body.data, r.body.len) < 0)) {
			i2k_buf_free(&r.body);
			break;
		}
		i2k_buf_free(&r.body);
	}
	close(fd);
	return NULL;
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	while (!s->stop) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		struct conn_arg *ca = malloc(sizeof(*ca));
		ca->s = s;
		ca->fd = fd;
		pthread_t t;
		pthread_create(&t, NULL, conn_main, ca);
		pthread_detach(t);
	}
	return NULL;
}

static void server_start(struct server *s, handler_fn h, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->h = h;
	s->ctx = ctx;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s->lfd, (struct sockaddr *)&a, sizeof(a));
	socklen_t al = sizeof(a);
	getsockname(s->lfd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	listen(s->lfd, 64);
	pthread_create(&s->th, NULL, server_main, s);
}

static void server_stop(struct server *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
	close(s->lfd);
	usleep(50000); /* let connection threads see EOF */
}

static void body_set(struct resp *r, const char *s)
{
	i2k_buf_append(&r->body, s, strlen(s), NULL);
}

static char *form_get(const char *body, const char *key) /* decoded value or NULL */
{
	size_t kl = strlen(key);
	const char *p = body;
	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1, *e = strchr(v, '&');
			size_t n = e ? (size_t)(e - v) : strlen(v);
			char *out = i2k_xmalloc(n + 1), *o = out;
			for (size_t i = 0; i < n; i++) {
				if (v[i] == '%' && i + 2 < n + 1) {
					unsigned x;
					sscanf(v + i + 1, "%2x", &x);
					*o++ = (char)x;
					i += 2;
				} else {
					*o++ = v[i];
				}
			}
			*o = '\0';
			return out;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return NULL;
}

/* --- environment helpers ----------------------------------------------------- */

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
				       "AWS_SECRET_ACCESS_KEY",
				       "AWS_SESSION_TOKEN",
				       "AWS_PROFILE",
				       "AWS_REGION",
				       "AWS_DEFAULT_REGION",
				       "AWS_CONFIG_FILE",
				       "AWS_SHARED_CREDENTIALS_FILE",
				       "AWS_ENDPOINT_URL",
				       "AWS_ENDPOINT_URL_EC2",
				       "AWS_ENDPOINT_URL_EBS",
				       "AWS_ENDPOINT_URL_STS",
				       "AWS_ENDPOINT_URL_CLOUDFORMATION",
				       "AWS_EC2_METADATA_SERVICE_ENDPOINT",
				       "AWS_EC2_METADATA_DISABLED",
				       "AWS_MAX_ATTEMPTS"};

static char tmpdir[256];

static void env_reset(void)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(aws_vars); i++)
		unsetenv(aws_vars[i]);
	char p[300];
	snprintf(p, sizeof(p), "%s/none", tmpdir);
	setenv("AWS_CONFIG_FILE", p, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void write_file(const char *name, const char *text)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static void set_file_env(const char *var, const char *name)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	setenv(var, p, 1);
}

/* --- credentials ---------------------------------------------------------------- */

TEST(creds_env_and_endpoints)
{
	env_reset();
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000001234", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	setenv("AWS_ENDPOINT_URL_EBS", "http://127.0.0.1:1/ebs", 1);
	struct i2k_aws a;
	struct i2k_aws_opts o = {0};
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.creds.access_key_id, "AKIAENV0000001234");
	CHECK_STR(a.creds.session_token, "envtoken");
	CHECK_STR(a.creds.source, "environment");
	CHECK_STR(a.region, "eu-west-1");
	CHECK_STR(a.endpoint[I2K_AWS_EC2], "https://ec2.eu-west-1.amazonaws.com");
	CHECK_STR(a.endpoint[I2K_AWS_EBS], "http://127.0.0.1:1/ebs");
	CHECK_STR(i2k_aws_key_hint(a.creds.access_key_id), "****1234");
	i2k_aws_clear(&a);
	/* AWS_REGION beats AWS_DEFAULT_REGION, --region beats both, --endpoint-url all */
	setenv("AWS_REGION", "us-west-2", 1);
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.region, "us-west-2");
	i2k_aws_clear(&a);
	o.region = "cn-north-1";
	o.endpoint_url = "http://127.0.0.1:2";
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.region, "cn-north-1");
	CHECK_STR(a.endpoint[I2K_AWS_EBS], "http://127.0.0.1:2");
	CHECK_STR(a.endpoint[I2K_AWS_STS], "http://127.0.0.1:2");
	i2k_aws_clear(&a);
	o.endpoint_url = NULL;
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:3", 1);
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.endpoint[I2K_AWS_EC2], "http://127.0.0.1:3");
	CHECK_STR(a.endpoint[I2K_AWS_EBS], "http://127.0.0.1:1/ebs");
	i2k_aws_clear(&a);
	unsetenv("AWS_ENDPOINT_URL");
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.endpoint[I2K_AWS_EC2], "https://ec2.cn-north-1.amazonaws.com.cn");
	i2k_aws_clear(&a);
	o.region = "Bad Region";
	FAILS(i2k_aws_resolve(&o, &a, &_e), I2K_ERR_USAGE, "invalid AWS region \"Bad Region\"");
}

TEST(creds_profiles)
{
	env_reset();
	write_file("credentials",
		   "[default]\naws_access_key_id = AKIADEFAULT\n"
		   "aws_secret_access_key = defsecret\n\n"
		   "[dev]\naws_access_key_id=AKIADEV\naws_secret_access_key=devsecret\n"
		   "aws_session_token = devtoken\n");
	write_file("config",
		   "[default]\nregion = ap-south-1\n\n"
		   "# comment\n[profile dev]\nregion = eu-central-1\n"
		   "aws_access_key_id = AKIAFROMCONFIG\ns3 =\n  max_concurrent_requests = 2\n"
		   "[profile cfgonly]\naws_access_key_id = AKIACFG\n"
		   "aws_secret_access_key = cfgsecret\n");
	set_file_env("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	set_file_env("AWS_CONFIG_FILE", "config");
	struct i2k_aws a;
	struct i2k_aws_opts o = {0};
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.creds.access_key_id, "AKIADEFAULT");
	CHECK_STR(a.creds.source, "profile default");
	CHECK_STR(a.region, "ap-south-1");
	i2k_aws_clear(&a);
	setenv("AWS_PROFILE", "dev", 1);
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.creds.access_key_id, "AKIADEV"); /* credentials file wins */
	CHECK_STR(a.creds.session_token, "devtoken");
	CHECK_STR(a.region, "eu-central-1");
	i2k_aws_clear(&a);
	/* env keys beat AWS_PROFILE ... */
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.creds.access_key_id, "AKIAENV");
	i2k_aws_clear(&a);
	/* ... but not an explicit --profile */
	o.profile = "cfgonly";
	o.region = "us-east-1";
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.creds.access_key_id, "AKIACFG");
	CHECK(a.creds.session_token == NULL);
	i2k_aws_clear(&a);
	o.profile = "nope";
	o.region = NULL;
	struct i2k_error *e = NULL;
	CHECK(i2k_aws_resolve(&o, &a, &e) < 0);
	CHECK(e && e->code == I2K_ERR_CONFIG);
	CHECK_CONTAINS(e ? e->msg : NULL, "AWS profile \"nope\" not found");
	i2k_error_free(e);
	/* nothing at all */
	env_reset();
	setenv("AWS_REGION", "us-east-1", 1);
	o.profile = NULL;
	e = NULL;
	CHECK(i2k_aws_resolve(&o, &a, &e) < 0);
	CHECK(e && e->code == I2K_ERR_AUTH);
	CHECK_CONTAINS(e ? e->msg : NULL, "no AWS credentials found");
	i2k_error_free(e);
	/* no region */
	env_reset();
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	e = NULL;
	CHECK(i2k_aws_resolve(&o, &a, &e) < 0);
	CHECK(e && e->code == I2K_ERR_USAGE);
	i2k_error_free(e);
}

struct sts_ctx {
	char auth[512];
	char *role, *session;
};

static void sts_handler(const struct req *q, struct resp *r, void *ctx)
{
	struct sts_ctx *c = ctx;
	const char *a = strstr(q->headers, "authorization:");
	if (a)
		snprintf(c->auth, sizeof(c->auth), "%.*s", (int)strcspn(a, "\r\n"), a);
	free(c->role);
	free(c->session);
	c->role = form_get(q->body, "RoleArn");
	c->session = form_get(q->body, "RoleSessionName");
	char *action = form_get(q->body, "Action");
	if (action && strcmp(action, "AssumeRole") == 0) {
		body_set(r,
			 "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
			 "<AssumeRoleResult><Credentials><AccessKeyId>ASIATEMP</AccessKeyId>"
			 "<SecretAccessKey>tempsecret</SecretAccessKey>"
			 "<SessionToken>temptoken</SessionToken>"
			 "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
			 "</AssumeRoleResult></AssumeRoleResponse>");
	} else {
		r->status = 400;
	}
	free(action);
}

TEST(creds_assume_role)
{
	env_reset();
	struct sts_ctx c = {0};
	struct server s;
	server_start(&s, sts_handler, &c);
	char cfg[512];
	snprintf(
	    cfg, sizeof(cfg),
	    "[profile base]\naws_access_key_id = AKIABASE\naws_secret_access_key = basesecret\n"
	    "[profile deploy]\nrole_arn = arn:aws:iam::111:role/deploy\nsource_profile = base\n"
	    "region = eu-west-3\nrole_session_name = ci\n"
	    "[profile chained]\nrole_arn = arn:aws:iam::111:role/second\n"
	    "source_profile = deploy\n"
	    "[profile loop]\nrole_arn = arn:aws:iam::111:role/x\nsource_profile = loop2\n"
	    "[profile loop2]\nrole_arn = arn:aws:iam::111:role/y\nsource_profile = loop\n");
	write_file("config-ar", cfg);
	set_file_env("AWS_CONFIG_FILE", "config-ar");
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
	struct i2k_aws a;
	struct i2k_aws_opts o = {.profile = "deploy"};
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.creds.access_key_id, "ASIATEMP");
	CHECK_STR(a.creds.session_token, "temptoken");
	CHECK_STR(a.creds.source, "assume-role arn:aws:iam::111:role/deploy");
	CHECK_STR(a.region, "eu-west-3");
	CHECK_STR(c.role, "arn:aws:iam::111:role/deploy");
	CHECK_STR(c.session, "ci");
	CHECK_CONTAINS(c.auth, "Credential=AKIABASE/");
	CHECK_CONTAINS(c.auth, "/eu-west-3/sts/aws4_request");
	i2k_aws_clear(&a);
	/* a chain: the second AssumeRole is signed with the first's key */
	o.profile = "chained";
	o.region = "eu-west-3";
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(c.role, "arn:aws:iam::111:role/second");
	CHECK_CONTAINS(c.auth, "Credential=ASIATEMP/");
	i2k_aws_clear(&a);
	o.profile = "loop";
	struct i2k_error *e = NULL;
	CHECK(i2k_aws_resolve(&o, &a, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "chain deeper than");
	i2k_error_free(e);
	server_stop(&s);
	free(c.role);
	free(c.session);
}

struct imds_ctx {
	int puts, gets_without_token;
};

static void imds_handler(const struct req *q, struct resp *r, void *ctx)
{
	struct imds_ctx *c = ctx;
	if (strcmp(q->method, "PUT") == 0) {
		c->puts++;
		if (strcmp(q->path, "/latest/api/token") == 0 &&
		    strstr(q->headers, "x-aws-ec2-metadata-token-ttl-seconds: 21600"))
			body_set(r, "TOKEN42");
		else
			r->status = 400;
		return;
	}
	if (!strstr(q->headers, "x-aws-ec2-metadata-token: TOKEN42")) {
		c->gets_without_token++;
		r->status = 401;
		return;
	}
	if (strcmp(q->path, "/latest/meta-data/iam/security-credentials/") == 0)
		body_set(r, "farm-role\n");
	else if (strcmp(q->path, "/latest/meta-data/iam/security-credentials/farm-role") == 0)
		body_set(r, "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAIMDS\","
			    "\"SecretAccessKey\":\"imdssecret\",\"Token\":\"imdstoken\","
			    "\"Expiration\":\"2099-01-01T00:00:00Z\"}");
	else if (strcmp(q->path, "/latest/meta-data/placement/region") == 0)
		body_set(r, "sa-east-1");
	else
		r->status = 404;
}

TEST(creds_imdsv2)
{
	env_reset();
	struct imds_ctx c = {0};
	struct server s;
	server_start(&s, imds_handler, &c);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
	struct i2k_aws a;
	struct i2k_aws_opts o = {0};
	OK(i2k_aws_resolve(&o, &a, &_e));
	CHECK_STR(a.creds.access_key_id, "ASIAIMDS");
	CHECK_STR(a.creds.session_token, "imdstoken");
	CHECK_STR(a.creds.source, "imds role farm-role");
	CHECK_STR(a.region, "sa-east-1"); /* from the instance when nothing else says */
	CHECK_STR(a.endpoint[I2K_AWS_EBS], "https://ebs.sa-east-1.amazonaws.com");
	CHECK_INT(c.puts, 1);
	CHECK_INT(c.gets_without_token, 0);
	i2k_aws_clear(&a);
	server_stop(&s);
	/* nobody listening: no credentials, quickly */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	struct i2k_error *e = NULL;
	CHECK(i2k_aws_resolve(&o, &a, &e) < 0);
	CHECK(e && e->code == I2K_ERR_AUTH);
	i2k_error_free(e);
}

/* --- responses, errors, retries ------------------------------------------------- */

TEST(parse_images)
{
	const char *xml =
	    "<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
	    "<requestId>r1</requestId><imagesSet>"
	    "<item><imageId>ami-2</imageId><name>web</name><imageState>available</imageState>"
	    "<rootDeviceName>/dev/xvda</rootDeviceName><bootMode>uefi</bootMode>"
	    "<blockDeviceMapping><item><deviceName>/dev/xvdb</deviceName><ebs><snapshotId>"
	    "snap-data</snapshotId></ebs></item><item><deviceName>/dev/xvda</deviceName><ebs>"
	    "<snapshotId>snap-root</snapshotId></ebs></item></blockDeviceMapping>"
	    "<tagSet><item><key>i2kit:name</key><value>web</value></item><item><key>"
	    "i2kit:digest</key><value>sha256:ab</value></item></tagSet></item>"
	    "<item><imageId>ami-1</imageId><name>api</name></item>"
	    "</imagesSet></DescribeImagesResponse>";
	xmlDoc *doc = NULL;
	OK(i2k_aws_xml_parse(xml, strlen(xml), &doc, &_e));
	struct i2k_ec2_image *im = NULL;
	size_t n = 0;
	OK(i2k_ec2_parse_images(doc, &im, &n, &_e));
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(im[0].id, "ami-1"); /* sorted by name */
		CHECK(im[0].snapshot_id == NULL);
		CHECK_STR(im[1].snapshot_id, "snap-root");
		CHECK_STR(im[1].tag_name, "web");
		CHECK_STR(im[1].tag_digest, "sha256:ab");
		CHECK_STR(im[1].boot_mode, "uefi");
	}
	i2k_ec2_images_free(im, n);
	xmlFreeDoc(doc);
	FAILS(i2k_aws_xml_parse("not <xml", 8, &doc, &_e), I2K_ERR_REGISTRY, "answer is not XML");
	char *snap = NULL;
	uint32_t bs = 0;
	OK(i2k_ebs_parse_start(
	    "{\"SnapshotId\":\"snap-1\",\"BlockSize\":512,\"Status\":\"pending\"}", &snap, &bs,
	    &_e));
	CHECK_STR(snap, "snap-1");
	CHECK_INT(bs, 512);
	free(snap);
	FAILS(i2k_ebs_parse_start("{\"Status\":1}", &snap, &bs, &_e), I2K_ERR_REGISTRY,
	      "StartSnapshot: answer has no SnapshotId");
}

struct err_ctx {
	int calls;
	int mode;
};

static void err_handler(const struct req *q, struct resp *r, void *ctx)
{
	struct err_ctx *c = ctx;
	c->calls++;
	switch (c->mode) {
	case 0: /* EC2 XML error */
		r->status = 400;
		body_set(r, "<?xml version=\"1.0\"?><Response><Errors><Error><Code>InvalidAMIName."
			    "Duplicate</Code><Message>AMI name web is already in use</Message>"
			    "</Error></Errors><RequestID>req-7</RequestID></Response>");
		break;
	case 1:
		r->status = 401;
		body_set(r, "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was "
			    "not able to validate the provided access credentials</Message>"
			    "</Error></Errors><RequestID>req-8</RequestID></Response>");
		break;
	case 2: /* EBS JSON error */
		r->status = 400;
		snprintf(r->headers, sizeof(r->headers),
			 "x-amzn-ErrorType: ValidationException:http://internal.amazon.com/\r\n"
			 "x-amzn-RequestId: req-9\r\n");
		body_set(r, "{\"message\":\"Bad block\",\"Reason\":\"INVALID_BLOCK\"}");
		break;
	case 3: /* 503, throttle, reset, then success */
		if (c->calls == 1) {
			r->status = 503;
		} else if (c->calls == 2) {
			r->status = 400;
			snprintf(r->headers, sizeof(r->headers),
				 "x-amzn-ErrorType: ThrottlingException\r\n");
			body_set(r, "{\"message\":\"slow down\"}");
		} else if (c->calls == 3) {
			r->reset = true;
		} else {
			body_set(r, "<R><imagesSet/></R>");
		}
		break;
	case 4: /* always 503 */
		r->status = 503;
		body_set(r, "<Response><Errors><Error><Code>Unavailable</Code><Message>x</Message>"
			    "</Error></Errors></Response>");
		break;
	}
}

static void test_aws_env(struct i2k_aws *a, int port)
{
	memset(a, 0, sizeof(*a));
	a->creds.access_key_id = i2k_xstrdup("AKIATEST");
	a->creds.secret_access_key = i2k_xstrdup("testsecret-do-not-print");
	a->region = i2k_xstrdup("us-east-1");
	for (int i = 0; i < I2K_AWS_NSVC; i++)
		a->endpoint[i] = i2k_xasprintf("http://127.0.0.1:%d", port);
	a->backoff_base_ms = 1;
	a->backoff_cap_ms = 5;
}

TEST(errors_and_retries)
{
	struct err_ctx c = {0};
	struct server s;
	server_start(&s, err_handler, &c);
	struct i2k_aws a;
	test_aws_env(&a, s.port);
	struct i2k_ec2_image *im = NULL;
	size_t n = 0;
	FAILS(i2k_ec2_describe_images(&a, NULL, "web", false, &im, &n, &_e), I2K_ERR_REGISTRY,
	      "ec2 DescribeImages: InvalidAMIName.Duplicate: AMI name web is already in use "
	      "(HTTP 400, request id req-7)");
	CHECK_INT(c.calls, 1); /* not retried */
	c.mode = 1;
	FAILS(i2k_ec2_describe_images(&a, NULL, "web", false, &im, &n, &_e), I2K_ERR_AUTH,
	      "ec2 DescribeImages: AuthFailure: AWS was not able to validate the provided access "
	      "credentials (HTTP 401, request id req-8)");
	c.mode = 2;
	uint8_t blk[1] = {0}, d[32] = {0};
	(void)blk;
	_cleanup_free_ uint8_t *data = i2k_xcalloc(1, I2K_EBS_BLOCK);
	FAILS(i2k_ebs_put_block(&a, NULL, "snap-1", 3, data, d, &_e), I2K_ERR_REGISTRY,
	      "block 3: ebs PutSnapshotBlock: ValidationException: Bad block (HTTP 400, request "
	      "id req-9)");
	c.mode = 3;
	c.calls = 0;
	OK(i2k_ec2_describe_images(&a, NULL, NULL, true, &im, &n, &_e));
	CHECK_INT(c.calls, 4);
	CHECK_INT(n, 0);
	i2k_ec2_images_free(im, n);
	c.mode = 4;
	c.calls = 0;
	a.max_attempts = 3;
	struct i2k_error *e = NULL;
	CHECK(i2k_ec2_describe_images(&a, NULL, NULL, true, &im, &n, &e) < 0);
	CHECK_INT(c.calls, 3);
	CHECK_CONTAINS(e ? e->msg : NULL, "giving up after 3 attempts");
	CHECK(e && strstr(e->msg, "testsecret") == NULL);
	i2k_error_free(e);
	i2k_aws_clear(&a);
	server_stop(&s);
}

/* --- the EBS sink against a fake EBS + EC2 ----------------------------------------- */

#define DISK (7u * I2K_EBS_BLOCK + 1234u) /* short last block */

struct fake_aws {
	uint8_t *disk; /* what was received */
	bool got[16];
	int puts;
	int fail_index; /* PutSnapshotBlock of this block fails (400) */
	char complete_count[32], complete_sum[64], complete_method[32];
	char *register_body;
	bool deleted, completed;
	int describe_images;
	int starts;
};

static bool hdr(const struct req *q, const char *name, char *out, size_t n)
{
	char key[64];
	snprintf(key, sizeof(key), "%s:", name);
	const char *h = strstr(q->headers, key);
	if (!h)
		return false;
	h += strlen(key);
	while (*h == ' ')
		h++;
	snprintf(out, n, "%.*s", (int)strcspn(h, "\r\n"), h);
	return true;
}

static void aws_handler(const struct req *q, struct resp *r, void *ctx)
{
	struct fake_aws *f = ctx;
	unsigned long idx;
	char action[64] = "";
	_cleanup_free_ char *act = form_get(q->body ? q->body : "", "Action");
	if (act)
		snprintf(action, sizeof(action), "%s", act);
	if (strcmp(q->method, "POST") == 0 && strcmp(q->path, "/snapshots") == 0) {
		f->starts++;
		if (strstr(q->body, "\"ClientToken\":\"stale\""))
			body_set(r, "{\"SnapshotId\":\"snap-old\",\"Status\":\"completed\"}");
		else
			body_set(r, "{\"SnapshotId\":\"snap-42\",\"BlockSize\":512,"
				    "\"Status\":\"pending\"}");
	} else if (sscanf(q->path, "/snapshots/snap-42/blocks/%lu", &idx) == 1) {
		f->puts++;
		char sum[64] = "", len[32] = "";
		hdr(q, "x-amz-checksum", sum, sizeof(sum));
		hdr(q, "x-amz-data-length", len, sizeof(len));
		uint8_t d[32];
		SHA256((uint8_t *)q->body, q->body_len, d);
		char b64[45];
		i2k_aws_base64_32(d, b64);
		if ((int)idx == f->fail_index || idx >= 8 || q->body_len != I2K_EBS_BLOCK ||
		    strcmp(sum, b64) != 0 || strcmp(len, "524288") != 0) {
			r->status = 400;
			snprintf(r->headers, sizeof(r->headers),
				 "x-amzn-ErrorType: ValidationException\r\n");
			body_set(r, "{\"message\":\"rejected\"}");
			return;
		}
		memcpy(f->disk + idx * I2K_EBS_BLOCK, q->body, I2K_EBS_BLOCK);
		f->got[idx] = true;
		r->status = 201;
		body_set(r, "{}");
	} else if (strcmp(q->path, "/snapshots/completion/snap-42") == 0) {
		hdr(q, "x-amz-changedblockscount", f->complete_count, sizeof(f->complete_count));
		hdr(q, "x-amz-checksum", f->complete_sum, sizeof(f->complete_sum));
		hdr(q, "x-amz-checksum-aggregation-method", f->complete_method,
		    sizeof(f->complete_method));
		f->completed = true;
		r->status = 202;
		body_set(r, "{\"Status\":\"pending\"}");
	} else if (strcmp(action, "DescribeImages") == 0) {
		f->describe_images++;
		body_set(r, f->register_body ? "<R><imagesSet><item><imageId>ami-9</imageId>"
					       "<imageState>available</imageState></item>"
					       "</imagesSet></R>"
					     : "<R><imagesSet/></R>");
	} else if (strcmp(action, "DescribeSnapshots") == 0) {
		body_set(r, "<R><snapshotSet><item><snapshotId>snap-42</snapshotId><status>"
			    "completed</status></item></snapshotSet></R>");
	} else if (strcmp(action, "RegisterImage") == 0) {
		free(f->register_body);
		f->register_body = i2k_xstrdup(q->body);
		body_set(r, "<R><imageId>ami-9</imageId></R>");
	} else if (strcmp(action, "CreateTags") == 0) {
		body_set(r, "<R><return>true</return></R>");
	} else if (strcmp(action, "DeleteSnapshot") == 0) {
		f->deleted = true;
		body_set(r, "<R><return>true</return></R>");
	} else {
		r->status = 404;
	}
}

static void fill_disk(uint8_t *d)
{
	memset(d, 0, DISK);
	for (size_t i = 0; i < 5000; i++)
		d[I2K_EBS_BLOCK + i] = (uint8_t)(i * 7 + 1); /* block 1 */
	d[3 * I2K_EBS_BLOCK + 17] = 9;			     /* block 3 */
	for (size_t i = 0; i < 1234; i++)
		d[7 * I2K_EBS_BLOCK + i] = (uint8_t)(i | 1); /* short last block 7 */
}

TEST(ebs_sink_uploads_nonzero_blocks)
{
	struct fake_aws f = {.fail_index = -1};
	f.disk = i2k_xcalloc(1, 8 * I2K_EBS_BLOCK);
	struct server s;
	server_start(&s, aws_handler, &f);
	struct i2k_aws a;
	test_aws_env(&a, s.port);
	_cleanup_free_ uint8_t *disk = i2k_xmalloc(DISK);
	fill_disk(disk);
	struct i2k_ebs_sink_opts o = {
	    .size = DISK, .jobs = 3, .name = "web", .boot_mode = "uefi", .architecture = "arm64"};
	struct i2k_sink *sink = NULL;
	OK(i2k_ebs_sink_new(&a, &o, &sink, &_e));
	if (sink) {
		/* odd-sized writes, one region skipped (zeros), offsets increasing */
		size_t off = 0, step = 100003;
		while (off < DISK) {
			size_t n = DISK - off < step ? DISK - off : step;
			if (off >= 4 * I2K_EBS_BLOCK && off < 6 * I2K_EBS_BLOCK) {
				OK(i2k_sink_zero(sink, off, n, &_e)); /* a hole */
				off += n;
				continue;
			}
			OK(i2k_sink_write_at(sink, off, disk + off, n, &_e));
			off += n;
		}
		FAILS(i2k_sink_write_at(sink, 10, disk, 1, &_e), I2K_ERR_INTERNAL,
		      "EBS sink: write at 10 before the end of the previous write (3671250); "
		      "offsets must not decrease");
		OK(i2k_sink_finish(sink, &_e));
		struct i2k_ebs_result res;
		CHECK_INT(i2k_ebs_sink_result(sink, &res), 0);
		CHECK_STR(res.ami, "ami-9");
		CHECK_STR(res.snapshot, "snap-42");
		CHECK_INT(res.blocks_sent, 3);
		CHECK_INT(res.blocks_skipped, 5);
		CHECK_INT(res.bytes_sent, 3 * I2K_EBS_BLOCK);
		i2k_sink_free(sink);
	}
	CHECK(f.got[1] && f.got[3] && f.got[7]);
	CHECK(!f.got[0] && !f.got[2] && !f.got[4] && !f.got[5] && !f.got[6]);
	CHECK(memcmp(f.disk, disk, DISK) == 0);
	CHECK_STR(f.complete_count, "3");
	CHECK_STR(f.complete_method, "LINEAR");
	/* LINEAR: SHA-256 over the block digests in index order */
	uint8_t cat[96], agg[32];
	_cleanup_free_ uint8_t *pad = i2k_xcalloc(1, I2K_EBS_BLOCK);
	SHA256(disk + I2K_EBS_BLOCK, I2K_EBS_BLOCK, cat);
	SHA256(disk + 3 * I2K_EBS_BLOCK, I2K_EBS_BLOCK, cat + 32);
	memcpy(pad, disk + 7 * I2K_EBS_BLOCK, 1234);
	SHA256(pad, I2K_EBS_BLOCK, cat + 64);
	SHA256(cat, sizeof(cat), agg);
	char b64[45];
	i2k_aws_base64_32(agg, b64);
	CHECK_STR(f.complete_sum, b64);
	_cleanup_free_ char *arch =
	    form_get(f.register_body ? f.register_body : "", "Architecture");
	_cleanup_free_ char *boot = form_get(f.register_body ? f.register_body : "", "BootMode");
	_cleanup_free_ char *snapid =
	    form_get(f.register_body ? f.register_body : "", "BlockDeviceMapping.1.Ebs.SnapshotId");
	CHECK_STR(arch, "arm64");
	CHECK_STR(boot, "uefi");
	CHECK_STR(snapid, "snap-42");
	CHECK(!f.deleted);
	i2k_aws_clear(&a);
	server_stop(&s);
	free(f.register_body);
	free(f.disk);
}

TEST(ebs_sink_failure_deletes_snapshot)
{
	struct fake_aws f = {.fail_index = 3};
	f.disk = i2k_xcalloc(1, 8 * I2K_EBS_BLOCK);
	struct server s;
	server_start(&s, aws_handler, &f);
	struct i2k_aws a;
	test_aws_env(&a, s.port);
	_cleanup_free_ uint8_t *disk = i2k_xmalloc(DISK);
	fill_disk(disk);
	struct i2k_ebs_sink_opts o = {
	    .size = DISK, .jobs = 2, .name = "web", .boot_mode = "legacy-bios"};
	struct i2k_sink *sink = NULL;
	OK(i2k_ebs_sink_new(&a, &o, &sink, &_e));
	if (sink) {
		struct i2k_error *e = NULL;
		int rc = i2k_sink_write_at(sink, 0, disk, DISK, &e);
		if (rc == 0)
			rc = i2k_sink_finish(sink, &e);
		CHECK(rc < 0);
		CHECK_CONTAINS(e ? e->msg : NULL, "ValidationException: rejected");
		CHECK_CONTAINS(e ? e->msg : NULL, "block 3");
		i2k_error_free(e);
		struct i2k_ebs_result res;
		CHECK(i2k_ebs_sink_result(sink, &res) < 0);
		i2k_sink_free(sink);
	}
	CHECK(f.deleted);
	CHECK(!f.completed);
	CHECK(f.register_body == NULL);
	/* an existing name: nothing started */
	f.register_body = i2k_xstrdup("x");
	f.deleted = false;
	struct i2k_sink *s2 = NULL;
	FAILS(i2k_ebs_sink_new(&a, &o, &s2, &_e), I2K_ERR_REGISTRY,
	      "pushing web to AWS: an AMI named \"web\" already exists in us-east-1 (ami-9); use "
	      "--replace");
	/* destroyed before finish: the snapshot is deleted */
	free(f.register_body);
	f.register_body = NULL;
	OK(i2k_ebs_sink_new(&a, &o, &s2, &_e));
	i2k_sink_free(s2);
	CHECK(f.deleted);
	i2k_aws_clear(&a);
	server_stop(&s);
	free(f.disk);
}

/* The seam the build pipeline uses: the raw container writer streaming a
 * disk file into the EBS sink (write_at + zero, in order). */
TEST(ebs_sink_behind_raw_container_writer)
{
	struct fake_aws f = {.fail_index = -1};
	f.disk = i2k_xcalloc(1, 8 * I2K_EBS_BLOCK);
	struct server s;
	server_start(&s, aws_handler, &f);
	struct i2k_aws a;
	test_aws_env(&a, s.port);
	uint64_t size = 7 * I2K_EBS_BLOCK + 1024;
	_cleanup_free_ uint8_t *disk = i2k_xmalloc(DISK);
	fill_disk(disk);
	memset(disk + size, 0, DISK - size);
	char p[300];
	snprintf(p, sizeof(p), "%s/seam.raw", tmpdir);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(write(fd, disk, size) == (ssize_t)size);
	struct i2k_ebs_sink_opts o = {.size = size, .jobs = 4, .name = "seam", .boot_mode = "uefi"};
	struct i2k_sink *sink = NULL;
	OK(i2k_ebs_sink_new(&a, &o, &sink, &_e));
	if (sink) {
		OK(i2k_container_write_fd(I2K_CONTAINER_RAW, fd, 0, size, sink, NULL, &_e));
		OK(i2k_sink_finish(sink, &_e));
		struct i2k_ebs_result res;
		CHECK_INT(i2k_ebs_sink_result(sink, &res), 0);
		CHECK_INT(res.blocks_sent, 3);
		i2k_sink_free(sink);
	}
	close(fd);
	CHECK(f.got[1] && f.got[3] && f.got[7] && !f.got[0] && !f.got[5]);
	CHECK(memcmp(f.disk, disk, size) == 0);
	i2k_aws_clear(&a);
	server_stop(&s);
	free(f.register_body);
	free(f.disk);
}

TEST(ebs_start_stale_client_token)
{
	struct fake_aws f = {.fail_index = -1};
	struct server s;
	server_start(&s, aws_handler, &f);
	struct i2k_aws a;
	test_aws_env(&a, s.port);
	struct i2k_ebs_start st = {.volume_gib = 1, .client_token = "stale"};
	char *snap = NULL;
	uint32_t bs = 0;
	OK(i2k_ebs_start_snapshot(&a, NULL, &st, &snap, &bs, &_e));
	CHECK_STR(snap, "snap-42"); /* the completed snapshot of an earlier push is not reused */
	CHECK_INT(f.starts, 2);
	free(snap);
	i2k_aws_clear(&a);
	server_stop(&s);
}

/* --- disk image reader ----------------------------------------------------------- */

static void reader_roundtrip(enum i2k_container_kind kind, uint64_t size)
{
	char raw[300], out[300];
	snprintf(raw, sizeof(raw), "%s/r.raw", tmpdir);
	snprintf(out, sizeof(out), "%s/r.out", tmpdir);
	_cleanup_free_ uint8_t *d = i2k_xcalloc(1, size);
	for (size_t i = 0; i < 70000; i++)
		d[3 * 1048576 + i] = (uint8_t)(i % 251 + 1);
	d[size - 1] = 0x5a;
	d[600] = 1;
	int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, d, size) == (ssize_t)size);
	OK(i2k_container_write_file(kind, fd, 0, size, out, NULL, &_e));
	close(fd);
	struct i2k_disk_reader *r = NULL;
	OK(i2k_disk_reader_open(out, &r, &_e));
	if (r == NULL)
		return;
	CHECK_INT(i2k_disk_reader_size(r), size);
	_cleanup_free_ uint8_t *back = i2k_xcalloc(1, size);
	uint64_t pos = 0, off, len, data = 0;
	struct i2k_error *e = NULL;
	while (i2k_disk_reader_next_extent(r, pos, &off, &len, &e) > 0) {
		CHECK(off >= pos && off + len <= size);
		OK(i2k_disk_reader_read(r, off, back + off, (size_t)len, &_e));
		data += len;
		pos = off + len;
	}
	CHECK(e == NULL);
	CHECK(memcmp(back, d, size) == 0);
	CHECK(data < size); /* holes were skipped */
	const char *mode = NULL;
	OK(i2k_push_boot_mode(r, &mode, &_e));
	CHECK_STR(mode, "legacy-bios");
	i2k_disk_reader_free(r);
}

TEST(reader_containers)
{
	uint64_t vsize = i2k_vhd_round_size(20u << 20);
	reader_roundtrip(I2K_CONTAINER_RAW, 20u << 20);
	reader_roundtrip(I2K_CONTAINER_QCOW2, 20u << 20);
	reader_roundtrip(I2K_CONTAINER_VHD_FIXED, vsize);
	reader_roundtrip(I2K_CONTAINER_VHD_DYNAMIC, vsize);
}

TEST(reader_rejects_corrupt_headers)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/bad.qcow2", tmpdir);
	uint8_t h[4096] = {0};
	memcpy(h, "QFI\xfb", 4);
	i2k_put_be32(h + 4, 3);
	i2k_put_be32(h + 20, 16);
	i2k_put_be64(h + 24, 1 << 30);
	i2k_put_be32(h + 36, 2);
	i2k_put_be64(h + 40, 1ull << 40); /* L1 far past the end */
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	close(fd);
	struct i2k_disk_reader *r = NULL;
	struct i2k_error *e = NULL;
	CHECK(i2k_disk_reader_open(p, &r, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	i2k_error_free(e);
	i2k_put_be32(h + 20, 40); /* cluster_bits out of range */
	fd = open(p, O_RDWR | O_TRUNC);
	CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	close(fd);
	e = NULL;
	CHECK(i2k_disk_reader_open(p, &r, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "cluster_bits out of range");
	i2k_error_free(e);
	/* a GPT with an ESP → uefi */
	snprintf(p, sizeof(p), "%s/gpt.raw", tmpdir);
	_cleanup_free_ uint8_t *d = i2k_xcalloc(1, 1 << 20);
	memcpy(d + 512, "EFI PART", 8);
	i2k_put_le64(d + 512 + 72, 2);
	i2k_put_le32(d + 512 + 80, 128);
	i2k_put_le32(d + 512 + 84, 128);
	static const uint8_t esp[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
					0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
	memcpy(d + 1024 + 128 * 5, esp, 16);
	i2k_put_le64(d + 1024 + 128 * 5 + 32, 34);   /* first LBA */
	i2k_put_le64(d + 1024 + 128 * 5 + 40, 2047); /* last LBA: inside the disk */
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(write(fd, d, 1 << 20) == 1 << 20);
	close(fd);
	OK(i2k_disk_reader_open(p, &r, &_e));
	const char *mode = NULL;
	if (r)
		OK(i2k_push_boot_mode(r, &mode, &_e));
	CHECK_STR(mode, "uefi");
	i2k_disk_reader_free(r);
	_cleanup_free_ char *n = i2k_push_default_name("/x/build/web-efi.qcow2");
	CHECK_STR(n, "web-efi");
}

int main(void)
{
	t_prog = "aws";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/i2k-test-aws.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("HOME", tmpdir, 1);
	RUN(creds_env_and_endpoints);
	RUN(creds_profiles);
	RUN(creds_assume_role);
	RUN(creds_imdsv2);
	RUN(parse_images);
	RUN(errors_and_retries);
	RUN(ebs_sink_uploads_nonzero_blocks);
	RUN(ebs_sink_failure_deletes_snapshot);
	RUN(ebs_sink_behind_raw_container_writer);
	RUN(ebs_start_stale_client_token);
	RUN(reader_containers);
	RUN(reader_rejects_corrupt_headers);
	struct i2k_error *e = NULL;
	i2k_rm_rf(tmpdir, &e);
	i2k_error_free(e);
	return TEST_DONE();
}
