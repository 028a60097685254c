/* curlload.h — libcurl, loaded when it is first used.
 *
 * Most i2kit commands never open a connection (offline and warm builds,
 * run, cache ls, template), yet a binary linked with libcurl pays for it at
 * every start: the dynamic loader maps libcurl and everything it links
 * (TLS, Kerberos, LDAP, PKCS#11), relocates them and runs their
 * constructors — about 30 ms of CPU, a fifth of a warm rebuild. So i2kit is
 * not linked with libcurl. curlload.c defines the libcurl functions i2kit
 * calls, under their own names and with libcurl's prototypes (the code that
 * uses them includes <curl/curl.h> as usual); the first call of any of them
 * dlopen()s libcurl.so.4 and every call forwards to it.
 *
 * A libcurl that cannot be loaded ends the process as the dynamic loader
 * would have at startup: "i2kit: error while loading shared libraries:
 * WHY" on stderr, exit status 127.
 *
 * This header declares nothing: <curl/curl.h> does. (tests/integration/
 * 30-build.sh checks with LD_DEBUG that an offline build never loads
 * libcurl and that a pull does.)
 */
#ifndef I2K_BUILDER_BASE_CURLLOAD_H
#define I2K_BUILDER_BASE_CURLLOAD_H
#endif
