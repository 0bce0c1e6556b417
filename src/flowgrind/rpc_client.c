/* The screened client (rpc_client.h): xmlrpc-c's curl transport under our own transport ops
 * whose synchronous call screens the response body before the client parses it. */
#include "flowgrind/rpc_client.h"

#include <stddef.h>
#include <string.h>

#include "flowgrind/rpc.h"

static void screened_call(xmlrpc_env *env, struct xmlrpc_client_transport *t,
                          const xmlrpc_server_info *server, xmlrpc_mem_block *call_xml,
                          xmlrpc_mem_block **response)
{
    xmlrpc_curl_transport_ops.call(env, t, server, call_xml, response);
    if (env->fault_occurred)
        return;
    char reason[128];
    const char *body = XMLRPC_MEMBLOCK_CONTENTS(char, *response);
    size_t len = XMLRPC_MEMBLOCK_SIZE(char, *response);
    if (fg_rpc_xml_acceptable(body, len, reason, sizeof reason))
        return;
    XMLRPC_MEMBLOCK_FREE(char, *response);
    *response = NULL;
    xmlrpc_env_set_fault_formatted(env, XMLRPC_PARSE_ERROR, "response refused: %s", reason);
}

/* Asynchronous calls would hand the response to the library unscreened; nothing here makes
 * them, and this keeps it that way. */
static void refused_send_request(xmlrpc_env *env, struct xmlrpc_client_transport *t,
                                 const xmlrpc_server_info *server, xmlrpc_mem_block *call_xml,
                                 xmlrpc_transport_asynch_complete complete,
                                 xmlrpc_transport_progress progress,
                                 struct xmlrpc_call_info *call_info)
{
    (void)t;
    (void)server;
    (void)call_xml;
    (void)complete;
    (void)progress;
    (void)call_info;
    xmlrpc_env_set_fault(env, XMLRPC_INTERNAL_ERROR, "asynchronous calls are not supported");
}

void fg_rpc_client_open(xmlrpc_env *env, struct fg_rpc_client *c, const char *appname,
                        const char *appversion, bool advertise, unsigned timeout_ms)
{
    memset(c, 0, sizeof *c);
    struct xmlrpc_curl_xportparms curl;
    memset(&curl, 0, sizeof curl);
    curl.dont_advertise = !advertise;
    curl.timeout = timeout_ms;
    /* the library's XMLRPC_CXPSIZE/XMLRPC_CPSIZE compute these through a null pointer,
     * which UBSan rejects */
    size_t curl_size = offsetof(struct xmlrpc_curl_xportparms, timeout) + sizeof curl.timeout;
    xmlrpc_curl_transport_ops.create(env, 0, appname, appversion, &curl, curl_size, &c->curl);
    if (env->fault_occurred) {
        c->curl = NULL;
        return;
    }
    struct xmlrpc_clientparms parms;
    memset(&parms, 0, sizeof parms);
    c->ops = xmlrpc_curl_transport_ops;
    c->ops.call = screened_call;
    c->ops.send_request = refused_send_request;
    parms.transportOpsP = &c->ops;
    parms.transportP = c->curl;
    xmlrpc_client_create(env, XMLRPC_CLIENT_NO_FLAGS, appname, appversion, &parms,
                         offsetof(struct xmlrpc_clientparms, transportP) + sizeof parms.transportP,
                         &c->client);
    if (env->fault_occurred) {
        c->client = NULL;
        fg_rpc_client_close(c);
    }
}

void fg_rpc_client_close(struct fg_rpc_client *c)
{
    if (c->client)
        xmlrpc_client_destroy(c->client);
    if (c->curl)
        xmlrpc_curl_transport_ops.destroy(c->curl);
    memset(c, 0, sizeof *c);
}
