#ifndef NETGRIND_SEQTEST_SEQTEST_H
#define NETGRIND_SEQTEST_SEQTEST_H

/* seqtest: TCP ordering, integrity and round-trip latency (see doc/man/seqtest.1). */
int seqtest_main(int argc, char **argv);

#endif
