#ifndef NETGRIND_CORE_VERSION_H
#define NETGRIND_CORE_VERSION_H

#define NETGRIND_VERSION "0.1.0"

/* The compiled-in optional features as one space-separated line ("epoll_pwait2 ..."),
 * for `netgrind --version`. Static string; any thread. */
const char *version_features(void);

#endif
