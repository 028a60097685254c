/* cloudformation.c — CloudFormation Query API calls (see cloudformation.h). */
#include "provision/aws/cloudformation.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define MAX_STACK_PAGES 50u

static void kv_free(struct i2k_cfn_kv *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void i2k_cfn_stack_clear(struct i2k_cfn_stack *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->name);
	free(s->status);
	free(s->reason);
	kv_free(s->outputs, s->noutputs);
	kv_free(s->tags, s->ntags);
	memset(s, 0, sizeof(*s));
}

void i2k_cfn_stacks_free(struct i2k_cfn_stack *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		i2k_cfn_stack_clear(&v[i]);
	free(v);
}

static const char *kv_get(const struct i2k_cfn_kv *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].key && strcmp(v[i].key, key) == 0)
			return v[i].value;
	return NULL;
}

const char *i2k_cfn_output(const struct i2k_cfn_stack *s, const char *key)
{
	return kv_get(s->outputs, s->noutputs, key);
}

const char *i2k_cfn_tag(const struct i2k_cfn_stack *s, const char *key)
{
	return kv_get(s->tags, s->ntags, key);
}

void i2k_cfn_events_free(struct i2k_cfn_event *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].timestamp);
		free(v[i].logical_id);
		free(v[i].physical_id);
		free(v[i].type);
		free(v[i].status);
		free(v[i].reason);
	}
	free(v);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

enum i2k_cfn_class i2k_cfn_status_class(const char *s)
{
	if (s == NULL || strcmp(s, "DELETE_COMPLETE") == 0)
		return I2K_CFN_GONE;
	if (ends_with(s, "_IN_PROGRESS"))
		return I2K_CFN_BUSY;
	if (strcmp(s, "CREATE_COMPLETE") == 0 || strcmp(s, "UPDATE_COMPLETE") == 0 ||
	    strcmp(s, "IMPORT_COMPLETE") == 0)
		return I2K_CFN_OK;
	return I2K_CFN_FAILED;
}

/* --- parsers ------------------------------------------------------------------ */

static xmlNode *result_of(xmlDoc *doc, const char *result)
{
	return i2k_xml_child(xmlDocGetRootElement(doc), result);
}

static void parse_kvs(xmlNode *list, const char *kname, const char *vname, struct i2k_cfn_kv **out,
		      size_t *n)
{
	size_t cap = 0;
	for (xmlNode *m = i2k_xml_child(list, "member"); m; m = i2k_xml_next(m)) {
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
		(*out)[*n].key = i2k_xml_text(m, kname);
		(*out)[*n].value = i2k_xml_text(m, vname);
		(*n)++;
	}
}

int i2k_cfn_parse_stacks(xmlDoc *doc, struct i2k_cfn_stack **out, size_t *n, char **next,
			 struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	if (next)
		*next = NULL;
	xmlNode *res = result_of(doc, "DescribeStacksResult");
	if (res == NULL)
		return i2k_error_set(err, I2K_ERR_REGISTRY,
				     "DescribeStacks: answer has no DescribeStacksResult");
	size_t cap = 0;
	for (xmlNode *m = i2k_xml_path(res, "Stacks/member"); m; m = i2k_xml_next(m)) {
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
		struct i2k_cfn_stack *s = &(*out)[(*n)++];
		memset(s, 0, sizeof(*s));
		s->id = i2k_xml_text(m, "StackId");
		s->name = i2k_xml_text(m, "StackName");
		s->status = i2k_xml_text(m, "StackStatus");
		s->reason = i2k_xml_text(m, "StackStatusReason");
		parse_kvs(i2k_xml_child(m, "Outputs"), "OutputKey", "OutputValue", &s->outputs,
			  &s->noutputs);
		parse_kvs(i2k_xml_child(m, "Tags"), "Key", "Value", &s->tags, &s->ntags);
		if (!s->id || !s->name || !s->status) {
			i2k_cfn_stacks_free(*out, *n);
			*out = NULL;
			*n = 0;
			return i2k_error_set(
			    err, I2K_ERR_REGISTRY,
			    "DescribeStacks: a stack without StackId, StackName or StackStatus");
		}
	}
	if (next)
		*next = i2k_xml_text(res, "NextToken");
	return 0;
}

int i2k_cfn_parse_events(xmlDoc *doc, struct i2k_cfn_event **out, size_t *n, char **next,
			 struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	if (next)
		*next = NULL;
	xmlNode *res = result_of(doc, "DescribeStackEventsResult");
	if (res == NULL)
		return i2k_error_set(
		    err, I2K_ERR_REGISTRY,
		    "DescribeStackEvents: answer has no DescribeStackEventsResult");
	size_t cap = 0;
	for (xmlNode *m = i2k_xml_path(res, "StackEvents/member"); m; m = i2k_xml_next(m)) {
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
		struct i2k_cfn_event *e = &(*out)[(*n)++];
		memset(e, 0, sizeof(*e));
		e->id = i2k_xml_text(m, "EventId");
		e->timestamp = i2k_xml_text(m, "Timestamp");
		e->logical_id = i2k_xml_text(m, "LogicalResourceId");
		e->physical_id = i2k_xml_text(m, "PhysicalResourceId");
		e->type = i2k_xml_text(m, "ResourceType");
		e->status = i2k_xml_text(m, "ResourceStatus");
		e->reason = i2k_xml_text(m, "ResourceStatusReason");
		if (!e->id || !e->logical_id || !e->status) {
			i2k_cfn_events_free(*out, *n);
			*out = NULL;
			*n = 0;
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "DescribeStackEvents: an event without EventId, "
					     "LogicalResourceId or ResourceStatus");
		}
		if (!e->timestamp)
			e->timestamp = i2k_xstrdup("");
		if (!e->type)
			e->type = i2k_xstrdup("");
	}
	if (next)
		*next = i2k_xml_text(res, "NextToken");
	return 0;
}

int i2k_cfn_parse_stack_id(xmlDoc *doc, char **stack_id, struct i2k_error **err)
{
	xmlNode *root = xmlDocGetRootElement(doc);
	char *id = NULL;
	for (xmlNode *c = root ? root->children : NULL; c && !id; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			id = i2k_xml_text(c, "StackId");
	if (id == NULL || *id == '\0') {
		free(id);
		return i2k_error_set(err, I2K_ERR_REGISTRY, "answer has no StackId");
	}
	*stack_id = id;
	return 0;
}

/* --- calls ---------------------------------------------------------------------- */

static void xml_freep(xmlDoc **d)
{
	if (*d)
		xmlFreeDoc(*d);
}

static bool msg_has(struct i2k_error *e, const char *what)
{
	return e && strstr(e->msg, what) != NULL;
}

int i2k_cfn_describe_stack(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
			   struct i2k_cfn_stack *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "StackName", name_or_id);
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	_cleanup_free_ char *code = NULL;
	struct i2k_error *e = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_CLOUDFORMATION, "DescribeStacks", &p, &doc, &code, &e);
	i2k_aws_params_clear(&p);
	if (rc < 0) {
		if (code && strcmp(code, "ValidationError") == 0 && msg_has(e, "does not exist")) {
			i2k_error_free(e);
			return 1;
		}
		i2k_error_propagate(err, &e);
		return -1;
	}
	struct i2k_cfn_stack *v = NULL;
	size_t n = 0;
	if (i2k_cfn_parse_stacks(doc, &v, &n, NULL, err) < 0)
		return -1;
	if (n == 0) {
		free(v);
		return 1;
	}
	*out = v[0];
	memset(&v[0], 0, sizeof(v[0]));
	i2k_cfn_stacks_free(v, n);
	return 0;
}

int i2k_cfn_list_stacks(const struct i2k_aws *a, struct i2k_aws_conn *c, struct i2k_cfn_stack **out,
			size_t *n, struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	_cleanup_free_ char *token = NULL;
	for (unsigned page = 0; page < MAX_STACK_PAGES; page++) {
		struct i2k_aws_params p = {0};
		if (token)
			i2k_aws_params_add(&p, "NextToken", token);
		_cleanup_(xml_freep) xmlDoc *doc = NULL;
		int rc = i2k_aws_query(a, c, I2K_AWS_CLOUDFORMATION, "DescribeStacks", &p, &doc,
				       NULL, err);
		i2k_aws_params_clear(&p);
		struct i2k_cfn_stack *v = NULL;
		size_t k = 0;
		free(token);
		token = NULL;
		if (rc < 0 || i2k_cfn_parse_stacks(doc, &v, &k, &token, err) < 0) {
			i2k_cfn_stacks_free(*out, *n);
			*out = NULL;
			*n = 0;
			return -1;
		}
		for (size_t i = 0; i < k; i++) {
			i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
			(*out)[(*n)++] = v[i];
		}
		free(v);
		if (!token || !*token)
			break;
	}
	return 0;
}

static void add_params(struct i2k_aws_params *q, const struct i2k_cfn_params *p)
{
	i2k_aws_params_add(q, "StackName", p->name);
	i2k_aws_params_add(q, "TemplateBody", p->template_body);
	for (size_t i = 0; i < p->ncapabilities; i++) {
		char k[64];
		snprintf(k, sizeof(k), "Capabilities.member.%zu", i + 1);
		i2k_aws_params_add(q, k, p->capabilities[i]);
	}
	for (size_t i = 0; i < p->ntags; i++) {
		char k[64];
		snprintf(k, sizeof(k), "Tags.member.%zu.Key", i + 1);
		i2k_aws_params_add(q, k, p->tags[i].key);
		snprintf(k, sizeof(k), "Tags.member.%zu.Value", i + 1);
		i2k_aws_params_add(q, k, p->tags[i].value);
	}
}

int i2k_cfn_create_stack(const struct i2k_aws *a, struct i2k_aws_conn *c,
			 const struct i2k_cfn_params *p, char **stack_id, struct i2k_error **err)
{
	*stack_id = NULL;
	struct i2k_aws_params q = {0};
	add_params(&q, p);
	i2k_aws_params_add(&q, "OnFailure", "ROLLBACK");
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_CLOUDFORMATION, "CreateStack", &q, &doc, NULL, err);
	i2k_aws_params_clear(&q);
	if (rc < 0)
		return -1;
	return i2k_cfn_parse_stack_id(doc, stack_id, err);
}

int i2k_cfn_update_stack(const struct i2k_aws *a, struct i2k_aws_conn *c,
			 const struct i2k_cfn_params *p, char **stack_id, struct i2k_error **err)
{
	*stack_id = NULL;
	struct i2k_aws_params q = {0};
	add_params(&q, p);
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	_cleanup_free_ char *code = NULL;
	struct i2k_error *e = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_CLOUDFORMATION, "UpdateStack", &q, &doc, &code, &e);
	i2k_aws_params_clear(&q);
	if (rc < 0) {
		if (code && strcmp(code, "ValidationError") == 0 &&
		    msg_has(e, "No updates are to be performed")) {
			i2k_error_free(e);
			return 1;
		}
		i2k_error_propagate(err, &e);
		return -1;
	}
	return i2k_cfn_parse_stack_id(doc, stack_id, err);
}

int i2k_cfn_delete_stack(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
			 struct i2k_error **err)
{
	struct i2k_aws_params q = {0};
	i2k_aws_params_add(&q, "StackName", name_or_id);
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_CLOUDFORMATION, "DeleteStack", &q, &doc, NULL, err);
	i2k_aws_params_clear(&q);
	return rc;
}

int i2k_cfn_events_since(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
			 const char *since, unsigned max_pages, struct i2k_cfn_event **out,
			 size_t *n, struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	if (max_pages == 0)
		max_pages = 20;
	size_t cap = 0;
	bool done = false;
	_cleanup_free_ char *token = NULL;
	for (unsigned page = 0; page < max_pages && !done; page++) {
		struct i2k_aws_params p = {0};
		i2k_aws_params_add(&p, "StackName", name_or_id);
		if (token)
			i2k_aws_params_add(&p, "NextToken", token);
		_cleanup_(xml_freep) xmlDoc *doc = NULL;
		int rc = i2k_aws_query(a, c, I2K_AWS_CLOUDFORMATION, "DescribeStackEvents", &p,
				       &doc, NULL, err);
		i2k_aws_params_clear(&p);
		struct i2k_cfn_event *v = NULL;
		size_t k = 0;
		free(token);
		token = NULL;
		if (rc < 0 || i2k_cfn_parse_events(doc, &v, &k, &token, err) < 0) {
			i2k_cfn_events_free(*out, *n);
			*out = NULL;
			*n = 0;
			return -1;
		}
		size_t i = 0;
		for (; i < k; i++) {
			if (since && strcmp(v[i].id, since) == 0) {
				done = true;
				break;
			}
			i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
			(*out)[(*n)++] = v[i];
			memset(&v[i], 0, sizeof(v[i]));
		}
		i2k_cfn_events_free(v, k);
		if (!token || !*token)
			break;
	}
	/* newest first → oldest first */
	for (size_t i = 0; *n > 1 && i < *n / 2; i++) {
		struct i2k_cfn_event t = (*out)[i];
		(*out)[i] = (*out)[*n - 1 - i];
		(*out)[*n - 1 - i] = t;
	}
	return 0;
}

int i2k_cfn_last_event(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
		       char **id, struct i2k_error **err)
{
	*id = NULL;
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "StackName", name_or_id);
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	int rc =
	    i2k_aws_query(a, c, I2K_AWS_CLOUDFORMATION, "DescribeStackEvents", &p, &doc, NULL, err);
	i2k_aws_params_clear(&p);
	struct i2k_cfn_event *v = NULL;
	size_t k = 0;
	if (rc < 0 || i2k_cfn_parse_events(doc, &v, &k, NULL, err) < 0)
		return -1;
	if (k > 0)
		*id = I2K_STEAL(v[0].id);
	i2k_cfn_events_free(v, k);
	return 0;
}

char *i2k_cfn_failure_cause(const struct i2k_cfn_event *ev, size_t n, const char *stack_name)
{
	for (size_t i = 0; i < n; i++) {
		const struct i2k_cfn_event *e = &ev[i];
		if (!ends_with(e->status, "_FAILED"))
			continue;
		if (stack_name && strcmp(e->logical_id, stack_name) == 0 &&
		    strcmp(e->type, "AWS::CloudFormation::Stack") == 0)
			continue;
		if (e->reason && strstr(e->reason, "Resource creation cancelled"))
			continue;
		return i2k_xasprintf("%s (%s) %s: %s", e->logical_id, e->type, e->status,
				     e->reason && *e->reason ? e->reason : "no reason given");
	}
	return NULL;
}

int i2k_cfn_wait_stack(const struct i2k_aws *a, struct i2k_aws_conn *c,
		       const struct i2k_cfn_wait *w, struct i2k_cfn_stack *final,
		       struct i2k_error **err)
{
	memset(final, 0, sizeof(*final));
	unsigned timeout = w->timeout_s ? w->timeout_s : 3600;
	unsigned delay = w->poll_ms ? w->poll_ms : 1000;
	int64_t end = i2k_aws_now(a) + timeout;
	_cleanup_free_ char *since = w->since ? i2k_xstrdup(w->since) : NULL;
	/* every event of this operation, oldest first, for the failure cause */
	struct i2k_cfn_event *all = NULL;
	size_t nall = 0, cap = 0;
	int rc = -1;
	for (;;) {
		struct i2k_cfn_event *ev = NULL;
		size_t nev = 0;
		struct i2k_error *e = NULL;
		if (i2k_cfn_events_since(a, c, w->stack, since, 0, &ev, &nev, &e) < 0) {
			if (!msg_has(e, "does not exist")) {
				i2k_error_propagate(err, &e);
				goto out;
			}
			i2k_error_free(e); /* deleted meanwhile: DescribeStacks says so */
		}
		for (size_t i = 0; i < nev; i++) {
			if (w->on_event)
				w->on_event(&ev[i], w->ctx);
			i2k_xgrow((void **)&all, &cap, nall + 1, sizeof(*all));
			all[nall++] = ev[i];
		}
		if (nev > 0) {
			free(since);
			since = i2k_xstrdup(ev[nev - 1].id);
		}
		free(ev);
		i2k_cfn_stack_clear(final);
		int d = i2k_cfn_describe_stack(a, c, w->stack, final, err);
		if (d < 0)
			goto out;
		const char *name = final->name ? final->name : w->stack;
		enum i2k_cfn_class cl = d == 1 ? I2K_CFN_GONE : i2k_cfn_status_class(final->status);
		if (cl == I2K_CFN_GONE && d == 1) {
			final->name = i2k_xstrdup(w->stack);
			final->status = i2k_xstrdup("DELETE_COMPLETE");
		}
		if (cl != I2K_CFN_BUSY) {
			/* the events that came in with the last status */
			struct i2k_cfn_event *tail = NULL;
			size_t ntail = 0;
			if (cl != I2K_CFN_GONE || d == 0) {
				if (i2k_cfn_events_since(a, c, w->stack, since, 0, &tail, &ntail,
							 NULL) == 0) {
					for (size_t i = 0; i < ntail; i++) {
						if (w->on_event)
							w->on_event(&tail[i], w->ctx);
						i2k_xgrow((void **)&all, &cap, nall + 1,
							  sizeof(*all));
						all[nall++] = tail[i];
					}
					free(tail);
				}
			}
			if (cl != I2K_CFN_FAILED) {
				rc = 0;
				goto out;
			}
			_cleanup_free_ char *cause = i2k_cfn_failure_cause(all, nall, name);
			if (cause)
				i2k_error_set(err, I2K_ERR_REGISTRY, "stack %s: %s: %s", name,
					      final->status, cause);
			else
				i2k_error_set(err, I2K_ERR_REGISTRY, "stack %s: %s%s%s", name,
					      final->status, final->reason ? ": " : "",
					      final->reason ? final->reason : "");
			goto out;
		}
		if (i2k_aws_now(a) >= end) {
			i2k_error_set(err, I2K_ERR_NETWORK, "stack %s still %s after %u s", name,
				      final->status, timeout);
			goto out;
		}
		i2k_aws_debugf(a, "cloudformation: stack %s is %s; polling again in %u ms", name,
			       final->status, delay);
		if (i2k_aws_sleep_ms(delay, err) < 0)
			goto out;
		delay = delay * 2 > 10000 ? 10000 : delay * 2;
	}
out:
	i2k_cfn_events_free(all, nall);
	return rc;
}
