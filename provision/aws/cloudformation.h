/* cloudformation.h — the CloudFormation Query API calls i2kit needs
 * (CreateStack, UpdateStack, DescribeStacks, DescribeStackEvents,
 * DeleteStack), the answers' XML parsers (exported for unit tests) and a
 * waiter that streams a stack's events while an operation runs.
 *
 * Error codes worth knowing (all answers are HTTP 400 ValidationError):
 *   "Stack with id X does not exist"   → i2k_cfn_describe_stack returns 1
 *   "No updates are to be performed."  → i2k_cfn_update_stack returns 1
 * Everything else follows client.h (exit 3).
 *
 * Stack status classes (i2k_cfn_status_class):
 *   busy    anything ending in _IN_PROGRESS (also the *_CLEANUP_IN_PROGRESS
 *           ones, which the waiter waits out too)
 *   ok      CREATE_COMPLETE, UPDATE_COMPLETE, IMPORT_COMPLETE
 *   failed  CREATE_FAILED, ROLLBACK_COMPLETE, ROLLBACK_FAILED, UPDATE_FAILED,
 *           UPDATE_ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED, DELETE_FAILED,
 *           IMPORT_ROLLBACK_*
 *   gone    DELETE_COMPLETE (or a stack that no longer exists)
 */
#ifndef I2K_PROVISION_AWS_CLOUDFORMATION_H
#define I2K_PROVISION_AWS_CLOUDFORMATION_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "provision/aws/client.h"

struct i2k_cfn_kv {
	char *key, *value;
};

struct i2k_cfn_stack {
	char *id, *name, *status, *reason; /* reason may be NULL */
	struct i2k_cfn_kv *outputs;	   /* OutputKey → OutputValue, answer order */
	size_t noutputs;
	struct i2k_cfn_kv *tags;
	size_t ntags;
};
void i2k_cfn_stack_clear(struct i2k_cfn_stack *s); /* frees the members, zeroes */
void i2k_cfn_stacks_free(struct i2k_cfn_stack *v, size_t n);
/* The output's value or NULL (pointer into s). */
const char *i2k_cfn_output(const struct i2k_cfn_stack *s, const char *key);
/* The tag's value or NULL (pointer into s). */
const char *i2k_cfn_tag(const struct i2k_cfn_stack *s, const char *key);

struct i2k_cfn_event {
	char *id, *timestamp, *logical_id, *physical_id, *type, *status;
	char *reason; /* may be NULL */
};
void i2k_cfn_events_free(struct i2k_cfn_event *v, size_t n);

enum i2k_cfn_class { I2K_CFN_BUSY, I2K_CFN_OK, I2K_CFN_FAILED, I2K_CFN_GONE };
enum i2k_cfn_class i2k_cfn_status_class(const char *status);

/* --- the calls ------------------------------------------------------------- */

/* DescribeStacks StackName=name_or_id: 0 with *out filled (caller clears), 1
 * when the stack does not exist (*out zeroed), -1 on error. */
int i2k_cfn_describe_stack(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
			   struct i2k_cfn_stack *out, struct i2k_error **err);
/* DescribeStacks without a name, every page (NextToken): all live stacks.
 * *out owned by the caller (i2k_cfn_stacks_free). */
int i2k_cfn_list_stacks(const struct i2k_aws *a, struct i2k_aws_conn *c, struct i2k_cfn_stack **out,
			size_t *n, struct i2k_error **err);

struct i2k_cfn_params {
	const char *name;
	const char *template_body;
	const struct i2k_cfn_kv *tags; /* stack tags (propagated to resources) */
	size_t ntags;
	const char *const *capabilities; /* e.g. "CAPABILITY_IAM"; may be NULL */
	size_t ncapabilities;
};
/* CreateStack (OnFailure ROLLBACK). *stack_id is the caller's. */
int i2k_cfn_create_stack(const struct i2k_aws *a, struct i2k_aws_conn *c,
			 const struct i2k_cfn_params *p, char **stack_id, struct i2k_error **err);
/* UpdateStack: 0 started (*stack_id the caller's), 1 "No updates are to be
 * performed" (no error, *stack_id NULL), -1 on error. */
int i2k_cfn_update_stack(const struct i2k_aws *a, struct i2k_aws_conn *c,
			 const struct i2k_cfn_params *p, char **stack_id, struct i2k_error **err);
/* DeleteStack (AWS answers success for a stack that does not exist). */
int i2k_cfn_delete_stack(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
			 struct i2k_error **err);
/* DescribeStackEvents, following NextToken, newest first as AWS answers,
 * stopping at the event whose id is `since` (not included) when given,
 * else after max_pages pages (0 → 20). Returned oldest first; *out owned
 * by the caller (i2k_cfn_events_free). */
int i2k_cfn_events_since(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
			 const char *since, unsigned max_pages, struct i2k_cfn_event **out,
			 size_t *n, struct i2k_error **err);

/* --- parsers (exported for tests) ---------------------------------------------- */

/* A DescribeStacksResponse: every member, answer order; *next the
 * NextToken or NULL (caller frees). */
int i2k_cfn_parse_stacks(xmlDoc *doc, struct i2k_cfn_stack **out, size_t *n, char **next,
			 struct i2k_error **err);
/* A DescribeStackEventsResponse: events in answer order (newest first). */
int i2k_cfn_parse_events(xmlDoc *doc, struct i2k_cfn_event **out, size_t *n, char **next,
			 struct i2k_error **err);
/* A CreateStackResponse / UpdateStackResponse: the StackId (caller frees). */
int i2k_cfn_parse_stack_id(xmlDoc *doc, char **stack_id, struct i2k_error **err);

/* --- waiting ----------------------------------------------------------------- */

typedef void (*i2k_cfn_event_fn)(const struct i2k_cfn_event *e, void *ctx);

struct i2k_cfn_wait {
	const char *stack;	   /* id (preferred: survives deletion) or name */
	const char *since;	   /* newest event id before the operation, or NULL */
	unsigned timeout_s;	   /* 0 → 3600 */
	unsigned poll_ms;	   /* first poll after; doubles up to 10 s; 0 → 1000 */
	i2k_cfn_event_fn on_event; /* every new event, oldest first; may be NULL */
	void *ctx;
};

/* Polls DescribeStacks (and DescribeStackEvents for on_event) until the
 * stack is no longer busy; *final gets its last description (status
 * DELETE_COMPLETE for one that disappeared; caller clears). Returns 0 for
 * ok and gone, -1 with the error for failed — "stack NAME: STATUS: LOGICAL
 * (TYPE) STATUS: REASON", naming the first resource that failed in this
 * operation (a "Resource creation cancelled" is never the cause), else
 * the stack's own reason — and for a timeout (I2K_ERR_NETWORK "stack NAME
 * still STATUS after N s") or SIGINT. *final is filled in every case where
 * the stack could be described. */
int i2k_cfn_wait_stack(const struct i2k_aws *a, struct i2k_aws_conn *c,
		       const struct i2k_cfn_wait *w, struct i2k_cfn_stack *final,
		       struct i2k_error **err);
/* The newest event's id (caller frees) or NULL when there is none. */
int i2k_cfn_last_event(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name_or_id,
		       char **id, struct i2k_error **err);
/* The failure line of a finished operation from its events (oldest first):
 * "LOGICAL (TYPE) STATUS: REASON" for the first resource that failed, or
 * NULL (caller frees). */
char *i2k_cfn_failure_cause(const struct i2k_cfn_event *ev, size_t n, const char *stack_name);

#endif
