#ifndef NETGRIND_TEST_COMMA_LOCALE_H
#define NETGRIND_TEST_COMMA_LOCALE_H

/* For the unit tests of locale independence (test_json, test_report): the name of a locale
 * whose decimal point is a comma. An installed one if there is one (or the one named by
 * NETGRIND_TEST_COMMA_LOCALE); otherwise one compiled for this process with localedef(1)
 * from the locale sources glibc ships (/usr/share/i18n), into a temporary directory that
 * LOCPATH points to, so that a machine without generated locales still runs the test
 * instead of skipping it. NULL only when neither is possible. Header-only: included by one
 * test program each. */

#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char comma_locale_tmpdir[64];

/* glibc's newlocale() keeps its copy of LOCPATH (built with argz_add_sep) when LOCPATH is
 * set, and never frees it: a leak in the C library, not in the code under test, which
 * LeakSanitizer is told to ignore (the sanitizer runtime calls this; without it, unused). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:argz_add_sep\n"; /* the symbol is argz_add_sep or __argz_add_sep */
}

/* name if it exists and its decimal point is a comma; the C locale is restored. */
static bool comma_locale_usable(const char *name)
{
    if (!setlocale(LC_NUMERIC, name))
        return false;
    bool comma = strcmp(localeconv()->decimal_point, ",") == 0;
    setlocale(LC_NUMERIC, "C");
    return comma;
}

/* Removes the compiled locale, if one was made. */
static void comma_locale_cleanup(void)
{
    if (!comma_locale_tmpdir[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", comma_locale_tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "comma_locale: could not remove %s\n", comma_locale_tmpdir);
    comma_locale_tmpdir[0] = '\0';
    unsetenv("LOCPATH");
}

/* Compiles de_DE.UTF-8 into a fresh temporary directory and points LOCPATH at it. */
static const char *comma_locale_compile(void)
{
    static const char name[] = "de_DE.UTF-8";
    snprintf(comma_locale_tmpdir, sizeof comma_locale_tmpdir, "/tmp/netgrind-locale.XXXXXX");
    if (!mkdtemp(comma_locale_tmpdir)) {
        comma_locale_tmpdir[0] = '\0';
        return NULL;
    }
    static bool registered;
    if (!registered) /* also removed when a failed assertion skips the test's own cleanup */
        registered = atexit(comma_locale_cleanup) == 0;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/%s' >/dev/null 2>&1",
             comma_locale_tmpdir, name);
    int rc = system(cmd);
    /* localedef exits 1 for mere warnings and still writes the locale: judge by the result. */
    (void)rc;
    setenv("LOCPATH", comma_locale_tmpdir, 1);
    if (comma_locale_usable(name))
        return name;
    comma_locale_cleanup();
    return NULL;
}

/* See the top of this file. Call comma_locale_cleanup() when done with it. */
static const char *comma_locale_find(void)
{
    static const char *names[] = {"de_DE.UTF-8", "de_DE.utf8",  "fr_FR.UTF-8", "fr_FR.utf8",
                                  "nl_NL.UTF-8", "ru_RU.UTF-8", "es_ES.UTF-8", "it_IT.UTF-8",
                                  "de_DE",       "fr_FR"};
    const char *env = getenv("NETGRIND_TEST_COMMA_LOCALE");
    if (env && setlocale(LC_NUMERIC, env)) {
        setlocale(LC_NUMERIC, "C");
        return env;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (comma_locale_usable(names[i]))
            return names[i];
    return comma_locale_compile();
}

#endif
