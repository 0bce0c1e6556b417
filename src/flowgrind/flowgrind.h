#ifndef NETGRIND_FLOWGRIND_FLOWGRIND_H
#define NETGRIND_FLOWGRIND_FLOWGRIND_H

/* The three flowgrind programs (specs/flowgrind.md), entries of src/main.c's dispatch table.
 * Each returns the process exit status. */

/* The controller: drives flowgrindd daemons over XML-RPC (controller.c). */
int flowgrind_main(int argc, char **argv);

/* The daemon: serves flowgrind's XML-RPC methods and runs the flows (flowgrindd.c). */
int flowgrindd_main(int argc, char **argv);

/* Stops all flows on the daemons named on the command line (stop.c). */
int flowgrind_stop_main(int argc, char **argv);

#endif
