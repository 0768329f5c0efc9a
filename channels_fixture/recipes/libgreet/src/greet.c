/* libgreet implementation; see greet.h for the API and the data lookup rule.
 * Built with -DGREET_PREFIX="<install prefix>" and -DGREET_VERSION="x.y.z". */
#define _GNU_SOURCE
#include "greet.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GREET_PREFIX
#error "GREET_PREFIX must be defined"
#endif
#ifndef GREET_VERSION
#error "GREET_VERSION must be defined"
#endif

/* The install prefix ends up in the binary as one NUL-terminated string, the
 * way conda packages expect to find (and rewrite) it. */
static const char greet_compiled_datadir[] = GREET_PREFIX "/share/libgreet";

static __thread char greet_error[PATH_MAX + 128];
static __thread char greet_datadir_buf[PATH_MAX];

static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(greet_error, sizeof greet_error, fmt, ap);
    va_end(ap);
}

int greet_version(void) { return LIBGREET_VERSION_MAJOR; }

const char *greet_version_string(void) { return GREET_VERSION; }

const char *greet_last_error(void) { return greet_error; }

void greet_free(char *message) { free(message); }

/* Hide the contents of the compiled-in string from the optimiser: a
 * relocation tool may rewrite it after linking, so its first byte must be
 * read at run time and never folded at compile time. */
static const char *compiled_datadir(void)
{
    const char *p = greet_compiled_datadir;
    __asm__("" : "+r"(p));
    return p;
}

const char *greet_datadir(void)
{
    const char *env = getenv("LIBGREET_DATADIR");
    if (env != NULL && env[0] != '\0') {
        if (strlen(env) >= sizeof greet_datadir_buf) {
            set_error("LIBGREET_DATADIR is too long");
            return NULL;
        }
        strcpy(greet_datadir_buf, env);
        return greet_datadir_buf;
    }

    const char *compiled = compiled_datadir();
    if (compiled[0] == '/') {
        snprintf(greet_datadir_buf, sizeof greet_datadir_buf, "%s", compiled);
        return greet_datadir_buf;
    }

    /* Relative: resolve against the directory of this shared object. */
    Dl_info info;
    if (dladdr((const void *)&greet_datadir, &info) == 0 || info.dli_fname == NULL) {
        set_error("cannot locate the libgreet shared object (dladdr failed)");
        return NULL;
    }
    char libdir[PATH_MAX];
    if (realpath(info.dli_fname, libdir) == NULL) {
        set_error("cannot resolve %s: %s", info.dli_fname, strerror(errno));
        return NULL;
    }
    char *slash = strrchr(libdir, '/');
    if (slash == NULL) {
        set_error("unexpected shared object path %s", libdir);
        return NULL;
    }
    *slash = '\0';
    int n = snprintf(greet_datadir_buf, sizeof greet_datadir_buf, "%s/%s", libdir, compiled);
    if (n < 0 || (size_t)n >= sizeof greet_datadir_buf) {
        set_error("data directory path is too long");
        return NULL;
    }
    return greet_datadir_buf;
}

static char *read_template(void)
{
    const char *dir = greet_datadir();
    if (dir == NULL)
        return NULL;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/greeting.txt", dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        set_error("greeting.txt path is too long");
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        set_error("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char line[1024];
    if (fgets(line, sizeof line, f) == NULL) {
        set_error("cannot read %s: empty file", path);
        fclose(f);
        return NULL;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    char *copy = strdup(line);
    if (copy == NULL)
        set_error("out of memory");
    return copy;
}

char *greet_message(const char *name)
{
    if (name == NULL) {
        set_error("name must not be NULL");
        return NULL;
    }
    char *tmpl = read_template();
    if (tmpl == NULL)
        return NULL;
    static const char marker[] = "{name}";
    const size_t mlen = sizeof marker - 1;
    size_t count = 0;
    for (const char *p = strstr(tmpl, marker); p != NULL; p = strstr(p + mlen, marker))
        count++;
    size_t nlen = strlen(name);
    size_t size = strlen(tmpl) - count * mlen + count * nlen + 1;
    char *out = malloc(size);
    if (out == NULL) {
        set_error("out of memory");
        free(tmpl);
        return NULL;
    }
    char *w = out;
    const char *r = tmpl;
    for (const char *p = strstr(r, marker); p != NULL; p = strstr(r, marker)) {
        memcpy(w, r, (size_t)(p - r));
        w += p - r;
        memcpy(w, name, nlen);
        w += nlen;
        r = p + mlen;
    }
    strcpy(w, r);
    free(tmpl);
    greet_error[0] = '\0';
    return out;
}

#if LIBGREET_VERSION_MAJOR >= 2
char *greet_shout(const char *name)
{
    char *msg = greet_message(name);
    if (msg == NULL)
        return NULL;
    for (char *p = msg; *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    return msg;
}
#endif
