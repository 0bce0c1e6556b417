#include "core/version.h"

const char *version_features(void)
{
    return "epoll"
#ifdef NETGRIND_HAVE_PCAP
           " pcap"
#endif
#ifdef NETGRIND_HAVE_OPENSSL
           " openssl"
#endif
#ifdef NETGRIND_HAVE_XMLRPC
           " xmlrpc-c"
#endif
        ;
}
