#include "tally.h"

#include <string.h>

size_t tally_count(const char *s) { return s == NULL ? 0 : strlen(s); }

size_t tally_total(int count, char *const *strings)
{
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += tally_count(strings[i]);
    return total;
}

const char *tally_version(void) { return "0.3.0"; }
