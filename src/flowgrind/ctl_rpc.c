/* The controller's XML-RPC client: one xmlrpc-c client on the curl transport, its responses
 * screened before the library parses them (rpc_client.h). See ctl.h. */

#include "flowgrind/ctl.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "flowgrind/rpc_client.h"

/* A daemon that accepts the connection but never answers must not hang the controller for
 * ever; a minute is far beyond any get_reports of a healthy daemon. */
#define CTL_RPC_TIMEOUT_MS 60000

struct ctl_client {
    struct fg_rpc_client rpc;
};

void ctl_fault_text(const xmlrpc_env *env, char *err, size_t errlen)
{
    snprintf(err, errlen, "XML-RPC Fault: %s (%d)",
             env->fault_string ? env->fault_string : "unknown fault", env->fault_code);
}

struct ctl_client *ctl_client_new(char *err, size_t errlen)
{
    struct ctl_client *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_client_setup_global_const(&env);
    if (!env.fault_occurred) { /* no User-Agent, like the original's main client */
        fg_rpc_client_open(&env, &c->rpc, "flowgrind", FG_RPC_VERSION, false,
                           CTL_RPC_TIMEOUT_MS);
        if (env.fault_occurred)
            xmlrpc_client_teardown_global_const();
    }
    if (env.fault_occurred) {
        ctl_fault_text(&env, err, errlen);
        xmlrpc_env_clean(&env);
        free(c);
        return NULL;
    }
    xmlrpc_env_clean(&env);
    return c;
}

void ctl_client_free(struct ctl_client *c)
{
    if (!c)
        return;
    fg_rpc_client_close(&c->rpc);
    xmlrpc_client_teardown_global_const();
    free(c);
}

int ctl_call(struct ctl_client *c, const char *url, const char *method, xmlrpc_value *params,
             xmlrpc_value **result, char *err, size_t errlen)
{
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    *result = NULL;
    if (!params) {
        snprintf(err, errlen, "XML-RPC Fault: cannot build the %s call (out of memory) (%d)",
                 method, XMLRPC_INTERNAL_ERROR);
        return -1;
    }
    xmlrpc_server_info *server = xmlrpc_server_info_new(&env, url);
    if (!env.fault_occurred) {
        xmlrpc_client_call2(&env, c->rpc.client, server, method, params, result);
        xmlrpc_server_info_free(server);
    }
    xmlrpc_DECREF(params);
    if (env.fault_occurred) {
        ctl_fault_text(&env, err, errlen);
        xmlrpc_env_clean(&env);
        *result = NULL;
        return -1;
    }
    xmlrpc_env_clean(&env);
    return 0;
}
