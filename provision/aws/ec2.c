/* ec2.c — EC2 Query API calls for AMIs (see ec2.h). */
#include "provision/aws/ec2.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

void i2k_ec2_images_free(struct i2k_ec2_image *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].name);
		free(v[i].state);
		free(v[i].creation_date);
		free(v[i].architecture);
		free(v[i].boot_mode);
		free(v[i].description);
		free(v[i].snapshot_id);
		free(v[i].tag_name);
		free(v[i].tag_digest);
	}
	free(v);
}

static int image_cmp(const void *x, const void *y)
{
	const struct i2k_ec2_image *a = x, *b = y;
	int c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
	return c ? c : strcmp(a->id ? a->id : "", b->id ? b->id : "");
}

int i2k_ec2_parse_images(xmlDoc *doc, struct i2k_ec2_image **out, size_t *n, struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	xmlNode *set = i2k_xml_child(xmlDocGetRootElement(doc), "imagesSet");
	if (set == NULL)
		return i2k_error_set(err, I2K_ERR_REGISTRY,
				     "DescribeImages: answer has no imagesSet");
	size_t cap = 0;
	for (xmlNode *it = i2k_xml_child(set, "item"); it; it = i2k_xml_next(it)) {
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
		struct i2k_ec2_image *im = &(*out)[(*n)++];
		memset(im, 0, sizeof(*im));
		im->id = i2k_xml_text(it, "imageId");
		im->name = i2k_xml_text(it, "name");
		im->state = i2k_xml_text(it, "imageState");
		im->creation_date = i2k_xml_text(it, "creationDate");
		im->architecture = i2k_xml_text(it, "architecture");
		im->boot_mode = i2k_xml_text(it, "bootMode");
		im->description = i2k_xml_text(it, "description");
		char *root = i2k_xml_text(it, "rootDeviceName");
		xmlNode *bdm = i2k_xml_child(it, "blockDeviceMapping");
		for (xmlNode *m = i2k_xml_child(bdm, "item"); m; m = i2k_xml_next(m)) {
			char *dev = i2k_xml_text(m, "deviceName");
			char *snap = i2k_xml_text(m, "ebs/snapshotId");
			bool is_root = !root || !dev || strcmp(root, dev) == 0;
			if (snap && *snap && (im->snapshot_id == NULL || is_root)) {
				free(im->snapshot_id);
				im->snapshot_id = snap;
				snap = NULL;
			}
			free(dev);
			free(snap);
		}
		free(root);
		xmlNode *tags = i2k_xml_child(it, "tagSet");
		for (xmlNode *t = i2k_xml_child(tags, "item"); t; t = i2k_xml_next(t)) {
			_cleanup_free_ char *k = i2k_xml_text(t, "key");
			char *v = i2k_xml_text(t, "value");
			if (k && strcmp(k, I2K_EC2_TAG_NAME) == 0 && !im->tag_name)
				im->tag_name = I2K_STEAL(v);
			else if (k && strcmp(k, I2K_EC2_TAG_DIGEST) == 0 && !im->tag_digest)
				im->tag_digest = I2K_STEAL(v);
			free(v);
		}
		if (im->id == NULL) {
			i2k_ec2_images_free(*out, *n);
			*out = NULL;
			*n = 0;
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "DescribeImages: an image without imageId");
		}
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), image_cmp);
	return 0;
}

static int describe(const struct i2k_aws *a, struct i2k_aws_conn *c, struct i2k_aws_params *p,
		    struct i2k_ec2_image **out, size_t *n, struct i2k_error **err)
{
	xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_EC2, "DescribeImages", p, &doc, NULL, err);
	i2k_aws_params_clear(p);
	if (rc < 0)
		return -1;
	rc = i2k_ec2_parse_images(doc, out, n, err);
	xmlFreeDoc(doc);
	return rc;
}

int i2k_ec2_describe_images(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name,
			    bool i2kit_only, struct i2k_ec2_image **out, size_t *n,
			    struct i2k_error **err)
{
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "Owner.1", "self");
	int f = 0;
	if (name) {
		f++;
		i2k_aws_params_addf(&p, "Filter.1.Name", "name");
		i2k_aws_params_add(&p, "Filter.1.Value.1", name);
	}
	if (i2kit_only) {
		f++;
		char k[32];
		snprintf(k, sizeof(k), "Filter.%d.Name", f);
		i2k_aws_params_add(&p, k, "tag-key");
		snprintf(k, sizeof(k), "Filter.%d.Value.1", f);
		i2k_aws_params_add(&p, k, I2K_EC2_TAG_NAME);
	}
	return describe(a, c, &p, out, n, err);
}

int i2k_ec2_describe_image_ids(const struct i2k_aws *a, struct i2k_aws_conn *c,
			       const char *const *ids, size_t n_ids, struct i2k_ec2_image **out,
			       size_t *n, struct i2k_error **err)
{
	struct i2k_aws_params p = {0};
	for (size_t i = 0; i < n_ids; i++) {
		char k[32];
		snprintf(k, sizeof(k), "ImageId.%zu", i + 1);
		i2k_aws_params_add(&p, k, ids[i]);
	}
	return describe(a, c, &p, out, n, err);
}

int i2k_ec2_register_image(const struct i2k_aws *a, struct i2k_aws_conn *c,
			   const struct i2k_ec2_register *r, char **ami, char **code_out,
			   struct i2k_error **err)
{
	*ami = NULL;
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "Name", r->name);
	if (r->description && *r->description)
		i2k_aws_params_add(&p, "Description", r->description);
	i2k_aws_params_add(&p, "Architecture", r->architecture);
	i2k_aws_params_add(&p, "RootDeviceName", "/dev/xvda");
	i2k_aws_params_add(&p, "BlockDeviceMapping.1.DeviceName", "/dev/xvda");
	i2k_aws_params_add(&p, "BlockDeviceMapping.1.Ebs.SnapshotId", r->snapshot_id);
	i2k_aws_params_addf(&p, "BlockDeviceMapping.1.Ebs.VolumeSize", "%llu",
			    (unsigned long long)r->volume_gib);
	i2k_aws_params_add(&p, "BlockDeviceMapping.1.Ebs.VolumeType", "gp3");
	i2k_aws_params_add(&p, "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true");
	i2k_aws_params_add(&p, "VirtualizationType", "hvm");
	i2k_aws_params_add(&p, "EnaSupport", "true");
	i2k_aws_params_add(&p, "BootMode", r->boot_mode);
	i2k_aws_params_add(&p, "ImdsSupport", "v2.0");
	xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_EC2, "RegisterImage", &p, &doc, code_out, err);
	i2k_aws_params_clear(&p);
	if (rc < 0)
		return -1;
	*ami = i2k_xml_text(xmlDocGetRootElement(doc), "imageId");
	xmlFreeDoc(doc);
	if (*ami == NULL || **ami == '\0') {
		free(*ami);
		*ami = NULL;
		return i2k_error_set(err, I2K_ERR_REGISTRY, "RegisterImage: answer has no imageId");
	}
	return 0;
}

static int simple(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *action,
		  struct i2k_aws_params *p, struct i2k_error **err)
{
	xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_EC2, action, p, &doc, NULL, err);
	i2k_aws_params_clear(p);
	xmlFreeDoc(doc);
	return rc;
}

int i2k_ec2_deregister_image(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *ami,
			     struct i2k_error **err)
{
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "ImageId", ami);
	return simple(a, c, "DeregisterImage", &p, err);
}

int i2k_ec2_delete_snapshot(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
			    struct i2k_error **err)
{
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "SnapshotId", snap);
	return simple(a, c, "DeleteSnapshot", &p, err);
}

int i2k_ec2_create_tags(const struct i2k_aws *a, struct i2k_aws_conn *c,
			const char *const *resources, size_t n_res, const struct i2k_ec2_tag *tags,
			size_t n_tags, struct i2k_error **err)
{
	struct i2k_aws_params p = {0};
	char k[48];
	for (size_t i = 0; i < n_res; i++) {
		snprintf(k, sizeof(k), "ResourceId.%zu", i + 1);
		i2k_aws_params_add(&p, k, resources[i]);
	}
	for (size_t i = 0; i < n_tags; i++) {
		snprintf(k, sizeof(k), "Tag.%zu.Key", i + 1);
		i2k_aws_params_add(&p, k, tags[i].key);
		snprintf(k, sizeof(k), "Tag.%zu.Value", i + 1);
		i2k_aws_params_add(&p, k, tags[i].value ? tags[i].value : "");
	}
	return simple(a, c, "CreateTags", &p, err);
}

int i2k_ec2_snapshot_state(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
			   char **state, struct i2k_error **err)
{
	*state = NULL;
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "SnapshotId.1", snap);
	xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_EC2, "DescribeSnapshots", &p, &doc, NULL, err);
	i2k_aws_params_clear(&p);
	if (rc < 0)
		return -1;
	*state = i2k_xml_text(xmlDocGetRootElement(doc), "snapshotSet/item/status");
	xmlFreeDoc(doc);
	if (*state == NULL)
		return i2k_error_set(err, I2K_ERR_REGISTRY, "DescribeSnapshots: no status for %s",
				     snap);
	return 0;
}

int i2k_ec2_wait_snapshot(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
			  unsigned timeout_s, struct i2k_error **err)
{
	int64_t start = i2k_aws_now(NULL);
	unsigned delay = 1000;
	for (;;) {
		_cleanup_free_ char *st = NULL;
		if (i2k_ec2_snapshot_state(a, c, snap, &st, err) < 0)
			return -1;
		if (strcmp(st, "completed") == 0)
			return 0;
		if (strcmp(st, "error") == 0)
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "snapshot %s failed (state error)", snap);
		if (i2k_aws_now(NULL) - start >= (int64_t)timeout_s)
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "snapshot %s still %s after %u s", snap, st,
					     timeout_s);
		i2k_aws_debugf(a, "aws: snapshot %s is %s; next check in %u ms", snap, st, delay);
		if (i2k_aws_sleep_ms(delay, err) < 0)
			return -1;
		delay = delay * 2 > 15000 ? 15000 : delay * 2;
	}
}

int i2k_ec2_wait_image(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *ami,
		       unsigned timeout_s, struct i2k_error **err)
{
	int64_t start = i2k_aws_now(NULL);
	unsigned delay = 1000;
	for (;;) {
		struct i2k_ec2_image *im = NULL;
		size_t n = 0;
		if (i2k_ec2_describe_image_ids(a, c, &ami, 1, &im, &n, err) < 0)
			return -1;
		_cleanup_free_ char *st = i2k_xstrdup(n && im[0].state ? im[0].state : "unknown");
		i2k_ec2_images_free(im, n);
		if (strcmp(st, "available") == 0)
			return 0;
		if (strcmp(st, "failed") == 0 || strcmp(st, "error") == 0 ||
		    strcmp(st, "invalid") == 0)
			return i2k_error_set(err, I2K_ERR_REGISTRY, "image %s is %s", ami, st);
		if (i2k_aws_now(NULL) - start >= (int64_t)timeout_s)
			return i2k_error_set(err, I2K_ERR_REGISTRY, "image %s still %s after %u s",
					     ami, st, timeout_s);
		if (i2k_aws_sleep_ms(delay, err) < 0)
			return -1;
		delay = delay * 2 > 15000 ? 15000 : delay * 2;
	}
}

int i2k_ec2_snapshots_by_tag(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *tag,
			     const char *value, bool skip_failed, char ***out, size_t *n,
			     struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *filter = i2k_xasprintf("tag:%s", tag);
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "Owner.1", "self");
	i2k_aws_params_add(&p, "Filter.1.Name", filter);
	i2k_aws_params_add(&p, "Filter.1.Value.1", value);
	xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_EC2, "DescribeSnapshots", &p, &doc, NULL, err);
	i2k_aws_params_clear(&p);
	if (rc < 0)
		return -1;
	size_t cap = 0;
	xmlNode *set = i2k_xml_child(xmlDocGetRootElement(doc), "snapshotSet");
	for (xmlNode *it = i2k_xml_child(set, "item"); it; it = i2k_xml_next(it)) {
		_cleanup_free_ char *status = skip_failed ? i2k_xml_text(it, "status") : NULL;
		char *id = i2k_xml_text(it, "snapshotId");
		if (id == NULL || *id == '\0' || (status && strcmp(status, "error") == 0)) {
			free(id);
			continue;
		}
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(char *));
		(*out)[(*n)++] = id;
	}
	xmlFreeDoc(doc);
	return 0;
}

int i2k_ec2_image_snapshots(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *ami,
			    const char *fallback, char ***out, size_t *n, struct i2k_error **err)
{
	if (i2k_ec2_snapshots_by_tag(a, c, I2K_EC2_TAG_AMI, ami, false, out, n, err) < 0)
		return -1;
	if (*n == 0 && fallback) {
		*out = i2k_xcalloc(1, sizeof(char *));
		(*out)[(*n)++] = i2k_xstrdup(fallback);
	}
	return 0;
}
