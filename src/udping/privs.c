/* The switch to user nobody (see privs.h). */
#include "udping/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int udping_drop_privileges(char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam("nobody");
    if (!pw) {
        snprintf(err, errlen, "cannot switch to user nobody: no such user");
        return -ENOENT;
    }
    const char *what = "setgroups";
    if (setgroups(0, NULL) < 0)
        goto fail;
    what = "setgid";
    if (setgid(pw->pw_gid) < 0)
        goto fail;
    what = "setuid";
    if (setuid(pw->pw_uid) < 0)
        goto fail;
    return 0;
fail:;
    int e = errno;
    snprintf(err, errlen, "cannot switch to user nobody: %s: %s", what, strerror(e));
    return -e;
}
