/* cleanup.h — scope-bound release of locals (GCC/Clang cleanup attribute).
 *
 *   _cleanup_free_ char *s = NULL;        free(s) at scope exit
 *   _cleanup_close_ int fd = -1;          close(fd) if >= 0
 *   _cleanup_fclose_ FILE *f = NULL;      fclose(f) if non-NULL
 *   _cleanup_(i2k_x_freep) struct i2k_x *x = NULL;
 *
 * Hand ownership out with I2K_STEAL(p) (returns p, sets it NULL) and
 * I2K_TAKE_FD(fd) (returns fd, sets it -1).
 */
#ifndef I2K_BUILDER_BASE_CLEANUP_H
#define I2K_BUILDER_BASE_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void i2k_freep(void *p)
{
	free(*(void **)p);
}
static inline void i2k_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void i2k_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ _cleanup_(i2k_freep)
#define _cleanup_close_ _cleanup_(i2k_closep)
#define _cleanup_fclose_ _cleanup_(i2k_fclosep)

#define I2K_STEAL(p)                                                                               \
	({                                                                                         \
		__typeof__(p) _stolen = (p);                                                       \
		(p) = NULL;                                                                        \
		_stolen;                                                                           \
	})
#define I2K_TAKE_FD(fd)                                                                            \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})

#define I2K_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
