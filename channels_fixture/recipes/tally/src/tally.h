/* libtally 0.3.0 -- count characters. */
#ifndef TALLY_H
#define TALLY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of bytes in the NUL-terminated string S (0 for NULL). */
size_t tally_count(const char *s);

/* Sum of tally_count() over the COUNT strings in STRINGS. */
size_t tally_total(int count, char *const *strings);

/* "0.3.0" */
const char *tally_version(void);

#ifdef __cplusplus
}
#endif

#endif /* TALLY_H */
