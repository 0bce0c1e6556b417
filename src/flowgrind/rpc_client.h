/* An xmlrpc-c client whose responses pass fg_rpc_xml_acceptable before the library parses
 * them: a daemon (or anything answering on its port) cannot crash the controller or
 * flowgrind-stop with a body xmlrpc-c 1.33 mishandles. The HTTP side is xmlrpc-c's curl
 * transport, unchanged, so the bytes on the wire are the original's. */
#ifndef NETGRIND_FLOWGRIND_RPC_CLIENT_H
#define NETGRIND_FLOWGRIND_RPC_CLIENT_H

#include <stdbool.h>

#include <xmlrpc-c/client.h>
#include <xmlrpc-c/transport.h>

struct fg_rpc_client {
    xmlrpc_client *client;                   /* use with xmlrpc_client_call2 */
    struct xmlrpc_client_transport *curl;    /* owned here: the client does not destroy it */
    struct xmlrpc_client_transport_ops ops;  /* curl's, with the screened call */
};

/* Creates the client (after xmlrpc_client_setup_global_const). appname/appversion as for
 * xmlrpc_client_create (NULL: none); advertise false sends no User-Agent; timeout_ms bounds
 * each call (0: curl's default). On failure env holds the fault and c is empty. */
void fg_rpc_client_open(xmlrpc_env *env, struct fg_rpc_client *c, const char *appname,
                        const char *appversion, bool advertise, unsigned timeout_ms);
void fg_rpc_client_close(struct fg_rpc_client *c);

#endif
