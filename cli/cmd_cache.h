/* cmd_cache.h — `i2kit cache ls | pull REF... | rm REF... | clean |
 * export FILE REF... | import FILE`: inspect and manage the image cache. */
#ifndef I2K_CLI_CMD_CACHE_H
#define I2K_CLI_CMD_CACHE_H

int i2k_cmd_cache(int argc, char **argv);

#endif
