#ifndef NETGRIND_UDPING_UDPING_H
#define NETGRIND_UDPING_UDPING_H

/* UDPing: one-way UDP latency and loss (see doc/man/udping_client.1, udping_server.1). */
int udping_client_main(int argc, char **argv);
int udping_server_main(int argc, char **argv);

#endif
