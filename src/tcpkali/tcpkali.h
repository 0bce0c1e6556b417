#ifndef NETGRIND_TCPKALI_TCPKALI_H
#define NETGRIND_TCPKALI_TCPKALI_H

/* tcpkali: TCP load generator and sink (see doc/man/tcpkali.1). */
int tcpkali_main(int argc, char **argv);

#endif
