/* creds.c — the AWS CLI's credential, region and endpoint chain (see
 * creds.h). */
#include "provision/aws/creds.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define INI_MAX (1u << 20)
#define IMDS_MAX (64u << 10)
#define ROLE_DEPTH 5

/* --- INI files --------------------------------------------------------- */

struct ini_ent {
	char *section, *key, *value;
};
struct ini {
	struct ini_ent *e;
	size_t n, cap;
	char *path;
	bool present;
};

static void ini_free(struct ini *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->e[i].section);
		free(f->e[i].key);
		if (f->e[i].value) {
			explicit_bzero(f->e[i].value, strlen(f->e[i].value));
			free(f->e[i].value);
		}
	}
	free(f->e);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Missing file: not an error (present = false). */
static int ini_load(struct ini *f, const char *path, struct i2k_error **err)
{
	memset(f, 0, sizeof(*f));
	f->path = i2k_xstrdup(path);
	char *data = NULL;
	size_t len;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, INI_MAX, &data, &len, &e) < 0) {
		bool missing = e->errnum == ENOENT || e->code == I2K_ERR_NOTFOUND;
		if (missing) {
			i2k_error_free(e);
			return 0;
		}
		i2k_error_propagate(err, &e);
		return -1;
	}
	f->present = true;
	char *section = NULL;
	bool nested = false;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool indented = *line == ' ' || *line == '\t';
		char *l = trim(line);
		if (*l == '\0' || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');
			if (end == NULL)
				continue;
			*end = '\0';
			free(section);
			section = i2k_xstrdup(trim(l + 1));
			nested = false;
			continue;
		}
		if (indented && nested)
			continue; /* sub-settings of a nested block (s3 = ...) */
		char *eq = strchr(l, '=');
		if (eq == NULL || section == NULL)
			continue;
		*eq = '\0';
		char *k = trim(l), *v = trim(eq + 1);
		nested = *v == '\0';
		i2k_xgrow((void **)&f->e, &f->cap, f->n + 1, sizeof(*f->e));
		f->e[f->n].section = i2k_xstrdup(section);
		f->e[f->n].key = i2k_xstrdup(k);
		f->e[f->n++].value = i2k_xstrdup(v);
	}
	free(section);
	explicit_bzero(data, len);
	free(data);
	return 0;
}

static bool ini_has_section(const struct ini *f, const char *section)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->e[i].section, section) == 0)
			return true;
	return false;
}

static const char *ini_get(const struct ini *f, const char *section, const char *key)
{
	const char *v = NULL;
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->e[i].section, section) == 0 && strcasecmp(f->e[i].key, key) == 0)
			v = f->e[i].value; /* last one wins */
	return v && *v ? v : NULL;
}

struct files {
	struct ini config, creds;
};

static const char *conf_section(const char *profile, char *buf, size_t n)
{
	if (strcmp(profile, "default") == 0)
		return "default";
	snprintf(buf, n, "profile %s", profile);
	return buf;
}

/* A profile setting: credentials file wins for the key settings. */
static const char *prof_get(const struct files *fs, const char *profile, const char *key)
{
	char buf[512];
	const char *v = NULL;
	if (strncmp(key, "aws_", 4) == 0)
		v = ini_get(&fs->creds, profile, key);
	if (v == NULL)
		v = ini_get(&fs->config, conf_section(profile, buf, sizeof(buf)), key);
	if (v == NULL && strcmp(profile, "default") == 0)
		v = ini_get(&fs->config, "profile default", key);
	return v;
}

static bool prof_exists(const struct files *fs, const char *profile)
{
	char buf[512];
	return ini_has_section(&fs->creds, profile) ||
	       ini_has_section(&fs->config, conf_section(profile, buf, sizeof(buf))) ||
	       (strcmp(profile, "default") == 0 && ini_has_section(&fs->config, "profile default"));
}

static char *aws_file(const char *env, const char *name)
{
	const char *v = getenv(env);
	if (v && *v) {
		if (v[0] == '~' && v[1] == '/' && getenv("HOME"))
			return i2k_xasprintf("%s%s", getenv("HOME"), v + 1);
		return i2k_xstrdup(v);
	}
	const char *home = getenv("HOME");
	return i2k_xasprintf("%s/.aws/%s", home ? home : "", name);
}

const char *i2k_aws_key_hint(const char *id)
{
	static __thread char buf[16];
	size_t n = id ? strlen(id) : 0;
	snprintf(buf, sizeof(buf), "****%s", n >= 4 ? id + n - 4 : "");
	return buf;
}

static void set_creds(struct i2k_aws_creds *c, const char *id, const char *secret,
		      const char *token, char *source)
{
	i2k_aws_creds_clear(c);
	c->access_key_id = i2k_xstrdup(id);
	c->secret_access_key = i2k_xstrdup(secret);
	c->session_token = token && *token ? i2k_xstrdup(token) : NULL;
	c->source = source;
}

static bool env_creds(struct i2k_aws_creds *c)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	if (!id || !*id || !sk || !*sk)
		return false;
	set_creds(c, id, sk, getenv("AWS_SESSION_TOKEN"), i2k_xstrdup("environment"));
	return true;
}

/* --- instance metadata (IMDSv2) ----------------------------------------- */

static size_t imds_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct i2k_buf *b = ctx;
	return i2k_buf_append(b, p, sz * n, NULL) < 0 ? 0 : sz * n;
}

/* 0 with *out on 200; 1 when unreachable or not 200. */
static int imds_req(CURL *h, const char *base, const char *method, const char *path,
		    const char *token, char **out)
{
	*out = NULL;
	long timeout_ms = 1000;
	const char *t = getenv("AWS_METADATA_SERVICE_TIMEOUT");
	if (t && *t) {
		long v = strtol(t, NULL, 10);
		if (v > 0 && v < 600)
			timeout_ms = v * 1000;
	}
	_cleanup_free_ char *url = i2k_xasprintf("%s%s", base, path);
	struct curl_slist *sl = NULL;
	_cleanup_free_ char *th = NULL;
	if (token) {
		th = i2k_xasprintf("X-aws-ec2-metadata-token: %s", token);
		sl = curl_slist_append(sl, th);
	} else {
		sl = curl_slist_append(sl, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	}
	struct i2k_buf b = {.max = IMDS_MAX};
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, imds_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(sl);
	if (th)
		explicit_bzero(th, strlen(th));
	if (rc != CURLE_OK || status != 200) {
		if (b.data)
			explicit_bzero(b.data, b.len);
		i2k_buf_free(&b);
		return 1;
	}
	*out = b.data ? b.data : i2k_xstrdup("");
	return 0;
}

static char *imds_base(void)
{
	const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	char *b = i2k_xstrdup(e && *e ? e : "http://169.254.169.254");
	size_t n = strlen(b);
	while (n && b[n - 1] == '/')
		b[--n] = '\0';
	return b;
}

/* 0 found, 1 not available, -1 error (bad answer). region_out optional. */
static int imds_creds(const struct i2k_aws *a, struct i2k_aws_creds *c, char **region_out,
		      struct i2k_error **err)
{
	const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
	if (dis && strcasecmp(dis, "true") == 0)
		return 1;
	_cleanup_free_ char *base = imds_base();
	CURL *h = curl_easy_init();
	if (h == NULL)
		abort();
	int ret = 1;
	char *token = NULL, *roles = NULL, *doc = NULL, *path = NULL;
	if (imds_req(h, base, "PUT", "/latest/api/token", NULL, &token) != 0) {
		i2k_aws_debugf(a, "aws: no instance metadata service at %s", base);
		goto out;
	}
	if (imds_req(h, base, "GET", "/latest/meta-data/iam/security-credentials/", token,
		     &roles) != 0)
		goto out;
	char *nl = strchr(roles, '\n');
	if (nl)
		*nl = '\0';
	char *role = trim(roles);
	if (*role == '\0' || strchr(role, '/'))
		goto out;
	path = i2k_xasprintf("/latest/meta-data/iam/security-credentials/%s", role);
	if (imds_req(h, base, "GET", path, token, &doc) != 0)
		goto out;
	json_error_t je;
	json_t *j = json_loads(doc, 0, &je);
	const char *id = json_string_value(json_object_get(j, "AccessKeyId"));
	const char *sk = json_string_value(json_object_get(j, "SecretAccessKey"));
	const char *tk = json_string_value(json_object_get(j, "Token"));
	if (!id || !sk) {
		json_decref(j);
		ret =
		    i2k_error_set(err, I2K_ERR_AUTH,
				  "instance metadata: role %s: no credentials in the answer", role);
		goto out;
	}
	set_creds(c, id, sk, tk, i2k_xasprintf("imds role %s", role));
	json_decref(j);
	ret = 0;
	if (region_out) {
		char *r = NULL;
		if (imds_req(h, base, "GET", "/latest/meta-data/placement/region", token, &r) == 0)
			*region_out = r;
	}
out:
	if (token)
		explicit_bzero(token, strlen(token));
	if (doc)
		explicit_bzero(doc, strlen(doc));
	free(token);
	free(roles);
	free(doc);
	free(path);
	curl_easy_cleanup(h);
	return ret;
}

/* --- STS AssumeRole -------------------------------------------------------- */

static int assume_role(const struct i2k_aws *a, const struct i2k_aws_creds *src,
		       const char *role_arn, const char *session, const char *external_id,
		       const char *duration, struct i2k_aws_creds *out, struct i2k_error **err)
{
	struct i2k_aws tmp = *a; /* borrowed fields; only creds differ */
	tmp.creds = *src;
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "RoleArn", role_arn);
	if (session)
		i2k_aws_params_add(&p, "RoleSessionName", session);
	else
		i2k_aws_params_addf(&p, "RoleSessionName", "i2kit-%lld", (long long)i2k_aws_now(a));
	if (external_id)
		i2k_aws_params_add(&p, "ExternalId", external_id);
	if (duration)
		i2k_aws_params_add(&p, "DurationSeconds", duration);
	xmlDoc *doc = NULL;
	int rc = i2k_aws_query(&tmp, NULL, I2K_AWS_STS, "AssumeRole", &p, &doc, NULL, err);
	i2k_aws_params_clear(&p);
	if (rc < 0)
		return i2k_error_wrap(err, "assuming role %s", role_arn);
	xmlNode *cr = i2k_xml_path(xmlDocGetRootElement(doc), "AssumeRoleResult/Credentials");
	_cleanup_free_ char *id = i2k_xml_text(cr, "AccessKeyId");
	char *sk = i2k_xml_text(cr, "SecretAccessKey");
	char *tk = i2k_xml_text(cr, "SessionToken");
	xmlFreeDoc(doc);
	if (!id || !sk || !tk) {
		free(sk);
		free(tk);
		return i2k_error_set(err, I2K_ERR_AUTH,
				     "assuming role %s: no credentials in the answer", role_arn);
	}
	set_creds(out, id, sk, tk, i2k_xasprintf("assume-role %s", role_arn));
	explicit_bzero(sk, strlen(sk));
	explicit_bzero(tk, strlen(tk));
	free(sk);
	free(tk);
	return 0;
}

/* 0 found, 1 the profile has no credentials, -1 error. */
static int profile_creds(const struct i2k_aws *a, const struct files *fs, const char *profile,
			 int depth, struct i2k_aws_creds *out, struct i2k_error **err)
{
	if (depth > ROLE_DEPTH)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "profile %s: source_profile chain deeper than %d", profile,
				     ROLE_DEPTH);
	const char *role = prof_get(fs, profile, "role_arn");
	const char *id = prof_get(fs, profile, "aws_access_key_id");
	const char *sk = prof_get(fs, profile, "aws_secret_access_key");
	if (role) {
		const char *srcp = prof_get(fs, profile, "source_profile");
		const char *csrc = prof_get(fs, profile, "credential_source");
		struct i2k_aws_creds src = {0};
		int r;
		if (srcp && strcmp(srcp, profile) == 0) {
			if (!id || !sk)
				return i2k_error_set(err, I2K_ERR_CONFIG,
						     "profile %s: source_profile is itself but it "
						     "has no keys",
						     profile);
			set_creds(&src, id, sk, prof_get(fs, profile, "aws_session_token"),
				  i2k_xstrdup(profile));
			r = 0;
		} else if (srcp) {
			if (!prof_exists(fs, srcp))
				return i2k_error_set(err, I2K_ERR_CONFIG,
						     "profile %s: source_profile %s not found",
						     profile, srcp);
			r = profile_creds(a, fs, srcp, depth + 1, &src, err);
			if (r == 1)
				return i2k_error_set(err, I2K_ERR_AUTH,
						     "profile %s: source_profile %s has no "
						     "credentials",
						     profile, srcp);
		} else if (csrc && strcasecmp(csrc, "Environment") == 0) {
			r = env_creds(&src) ? 0 : 1;
			if (r == 1)
				return i2k_error_set(err, I2K_ERR_AUTH,
						     "profile %s: credential_source Environment: "
						     "AWS_ACCESS_KEY_ID is not set",
						     profile);
		} else if (csrc && strcasecmp(csrc, "Ec2InstanceMetadata") == 0) {
			r = imds_creds(a, &src, NULL, err);
			if (r == 1)
				return i2k_error_set(err, I2K_ERR_AUTH,
						     "profile %s: no instance metadata service",
						     profile);
		} else {
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "profile %s: role_arn needs source_profile or "
					     "credential_source",
					     profile);
		}
		if (r < 0)
			return -1;
		i2k_aws_debugf(a, "aws: assuming role %s with credentials from %s (key %s)", role,
			       src.source, i2k_aws_key_hint(src.access_key_id));
		r = assume_role(a, &src, role, prof_get(fs, profile, "role_session_name"),
				prof_get(fs, profile, "external_id"),
				prof_get(fs, profile, "duration_seconds"), out, err);
		i2k_aws_creds_clear(&src);
		return r;
	}
	if (id && sk) {
		set_creds(out, id, sk, prof_get(fs, profile, "aws_session_token"),
			  i2k_xasprintf("profile %s", profile));
		return 0;
	}
	return 1;
}

static char *default_endpoint(enum i2k_aws_svc s, const char *region)
{
	bool cn = strncmp(region, "cn-", 3) == 0;
	return i2k_xasprintf("https://%s.%s.amazonaws.com%s", i2k_aws_svc_name(s), region,
			     cn ? ".cn" : "");
}

static bool region_valid(const char *r)
{
	if (*r == '\0' || strlen(r) > 64)
		return false;
	for (const char *p = r; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			return false;
	return true;
}

int i2k_aws_resolve(const struct i2k_aws_opts *o, struct i2k_aws *a, struct i2k_error **err)
{
	memset(a, 0, sizeof(*a));
	a->debug = o->debug;
	a->debug_ctx = o->debug_ctx;
	const char *ma = getenv("AWS_MAX_ATTEMPTS");
	if (ma && *ma) {
		long v = strtol(ma, NULL, 10);
		if (v >= 1 && v <= 100)
			a->max_attempts = (int)v;
	}
	const char *ca = getenv("AWS_CA_BUNDLE");
	a->ca_file = ca && *ca ? ca : NULL;

	_cleanup_free_ char *cpath = aws_file("AWS_CONFIG_FILE", "config");
	_cleanup_free_ char *kpath = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	struct files fs;
	memset(&fs, 0, sizeof(fs));
	int rc = -1;
	if (ini_load(&fs.config, cpath, err) < 0 || ini_load(&fs.creds, kpath, err) < 0)
		goto out;
	const char *envp = getenv("AWS_PROFILE");
	const char *profile = o->profile ? o->profile : envp && *envp ? envp : "default";
	bool explicit_profile = o->profile != NULL || (envp && *envp);
	if (explicit_profile && !prof_exists(&fs, profile)) {
		i2k_error_set(err, I2K_ERR_CONFIG, "AWS profile \"%s\" not found in %s or %s",
			      profile, cpath, kpath);
		goto out;
	}

	/* region first: AssumeRole needs it */
	const char *region = o->region;
	if (!region || !*region)
		region = getenv("AWS_REGION");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region || !*region)
		region = prof_get(&fs, profile, "region");
	if (region && *region) {
		if (!region_valid(region)) {
			i2k_error_set(err, I2K_ERR_USAGE, "invalid AWS region \"%s\"", region);
			goto out;
		}
		a->region = i2k_xstrdup(region);
	}

	/* endpoints (need the region; filled again below if it comes from IMDS) */
	static const char *const env_names[I2K_AWS_NSVC] = {
	    [I2K_AWS_EC2] = "AWS_ENDPOINT_URL_EC2",
	    [I2K_AWS_EBS] = "AWS_ENDPOINT_URL_EBS",
	    [I2K_AWS_STS] = "AWS_ENDPOINT_URL_STS",
	    [I2K_AWS_CLOUDFORMATION] = "AWS_ENDPOINT_URL_CLOUDFORMATION",
	    [I2K_AWS_ELBV2] = "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
	    [I2K_AWS_AUTOSCALING] = "AWS_ENDPOINT_URL_AUTO_SCALING",
	};
	for (int s = 0; s < I2K_AWS_NSVC; s++) {
		const char *ep = o->endpoint_url;
		if (!ep || !*ep)
			ep = getenv(env_names[s]);
		if (!ep || !*ep)
			ep = getenv("AWS_ENDPOINT_URL");
		if (!ep || !*ep)
			ep = prof_get(&fs, profile, "endpoint_url");
		if (ep && *ep) {
			if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
				i2k_error_set(err, I2K_ERR_USAGE,
					      "endpoint URL \"%s\" must start with http:// or "
					      "https://",
					      ep);
				goto out;
			}
			a->endpoint[s] = i2k_xstrdup(ep);
		} else if (a->region) {
			a->endpoint[s] = default_endpoint((enum i2k_aws_svc)s, a->region);
		}
	}

	int r = 1;
	char *imds_region = NULL;
	if (o->profile == NULL && env_creds(&a->creds))
		r = 0;
	if (r == 1) {
		if (a->region == NULL && prof_get(&fs, profile, "role_arn")) {
			i2k_error_set(err, I2K_ERR_USAGE,
				      "profile %s assumes a role: STS needs a region (--region, "
				      "AWS_REGION or region in the profile)",
				      profile);
			goto out;
		}
		r = profile_creds(a, &fs, profile, 0, &a->creds, err);
		if (r < 0)
			goto out;
	}
	if (r == 1) {
		r = imds_creds(a, &a->creds, a->region ? NULL : &imds_region, err);
		if (r < 0)
			goto out;
	}
	if (r == 1) {
		i2k_error_set(err, I2K_ERR_AUTH,
			      "no AWS credentials found (tried AWS_ACCESS_KEY_ID, profile %s in "
			      "%s and %s, instance metadata)",
			      profile, cpath, kpath);
		goto out;
	}
	if (a->region == NULL && imds_region && region_valid(trim(imds_region))) {
		a->region = i2k_xstrdup(trim(imds_region));
		for (int s = 0; s < I2K_AWS_NSVC; s++)
			if (a->endpoint[s] == NULL)
				a->endpoint[s] = default_endpoint((enum i2k_aws_svc)s, a->region);
	}
	free(imds_region);
	if (a->region == NULL) {
		i2k_error_set(err, I2K_ERR_USAGE,
			      "no AWS region: use --region, AWS_REGION, AWS_DEFAULT_REGION or "
			      "region in profile %s",
			      profile);
		goto out;
	}
	i2k_aws_debugf(a, "aws: credentials from %s (key %s), region %s", a->creds.source,
		       i2k_aws_key_hint(a->creds.access_key_id), a->region);
	rc = 0;
out:
	ini_free(&fs.config);
	ini_free(&fs.creds);
	if (rc < 0)
		i2k_aws_clear(a);
	return rc;
}
