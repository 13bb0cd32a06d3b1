/* Error and warning reporting: one message per thread, so concurrent callers never read each
 * other's failures. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "nvh_internal.h"

static __thread char last_error[512];
static __thread char last_warning[2048];

int nvh_fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

void nvh_warn(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "nvh: warning: %s\n", line);
	size_t used = strlen(last_warning);
	snprintf(last_warning + used, sizeof last_warning - used, "%s\n", line);
}

void nvh_clear_warnings(void)
{
	last_warning[0] = '\0';
}

const char *nvh_last_error(void)
{
	return last_error;
}

const char *nvh_last_warning(void)
{
	return last_warning;
}
