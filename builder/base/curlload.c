/* curlload.c — see curlload.h. */
#define CURL_DISABLE_TYPECHECK 1 /* plain prototypes, not the checking macros */
#include "builder/base/curlload.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define LIBCURL "libcurl.so.4"

/* The libcurl functions i2kit calls, as loaded. */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*easy_reset)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
} lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fail(const char *why)
{
	fprintf(stderr, "i2kit: error while loading shared libraries: %s\n", why);
	exit(127);
}

/* dlsym into *slot (a function pointer of the right type, stored through
 * a void * the way POSIX allows for dlsym results). */
static void sym(void *h, const char *name, void *slot)
{
	dlerror();
	void *p = dlsym(h, name);
	if (p == NULL) {
		const char *e = dlerror();
		fail(e ? e : name);
	}
	*(void **)slot = p;
}

static void load(void)
{
	void *h = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		fail(e ? e : LIBCURL ": cannot open shared object file");
	}
	sym(h, "curl_global_init", &lib.global_init);
	sym(h, "curl_easy_init", &lib.easy_init);
	sym(h, "curl_easy_setopt", &lib.setopt);
	sym(h, "curl_easy_perform", &lib.easy_perform);
	sym(h, "curl_easy_cleanup", &lib.easy_cleanup);
	sym(h, "curl_easy_getinfo", &lib.getinfo);
	sym(h, "curl_easy_reset", &lib.easy_reset);
	sym(h, "curl_easy_strerror", &lib.easy_strerror);
	sym(h, "curl_free", &lib.free);
	sym(h, "curl_slist_append", &lib.slist_append);
	sym(h, "curl_slist_free_all", &lib.slist_free_all);
	sym(h, "curl_url", &lib.url);
	sym(h, "curl_url_cleanup", &lib.url_cleanup);
	sym(h, "curl_url_get", &lib.url_get);
	sym(h, "curl_url_set", &lib.url_set);
}

static void need(void)
{
	pthread_once(&once, load);
}

CURLcode curl_global_init(long flags)
{
	need();
	return lib.global_init(flags);
}

CURL *curl_easy_init(void)
{
	need();
	return lib.easy_init();
}

/* The one argument after the option is passed on in its own type, which the
 * option's number says (curl.h: CURLOPTTYPE_* bases: long, object pointer,
 * function pointer, curl_off_t, blob). */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	need();
	va_list ap;
	va_start(ap, option);
	CURLcode r;
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		r = lib.setopt(curl, option, va_arg(ap, long));
	} else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
		r = lib.setopt(curl, option, va_arg(ap, void *));
	} else if (option < CURLOPTTYPE_OFF_T) {
		r = lib.setopt(curl, option, va_arg(ap, void (*)(void)));
	} else if (option < CURLOPTTYPE_BLOB) {
		r = lib.setopt(curl, option, va_arg(ap, curl_off_t));
	} else {
		r = lib.setopt(curl, option, va_arg(ap, void *));
	}
	va_end(ap);
	return r;
}

CURLcode curl_easy_perform(CURL *curl)
{
	need();
	return lib.easy_perform(curl);
}

void curl_easy_cleanup(CURL *curl)
{
	need();
	lib.easy_cleanup(curl);
}

/* Every CURLINFO_* takes a pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	need();
	va_list ap;
	va_start(ap, info);
	CURLcode r = lib.getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return r;
}

void curl_easy_reset(CURL *curl)
{
	need();
	lib.easy_reset(curl);
}

const char *curl_easy_strerror(CURLcode code)
{
	need();
	return lib.easy_strerror(code);
}

void curl_free(void *p)
{
	need();
	lib.free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
	need();
	return lib.slist_append(list, data);
}

void curl_slist_free_all(struct curl_slist *list)
{
	need();
	lib.slist_free_all(list);
}

CURLU *curl_url(void)
{
	need();
	return lib.url();
}

void curl_url_cleanup(CURLU *handle)
{
	need();
	lib.url_cleanup(handle);
}

CURLUcode curl_url_get(CURLU *handle, CURLUPart what, char **part, unsigned int flags)
{
	need();
	return lib.url_get(handle, what, part, flags);
}

CURLUcode curl_url_set(CURLU *handle, CURLUPart what, const char *part, unsigned int flags)
{
	need();
	return lib.url_set(handle, what, part, flags);
}
