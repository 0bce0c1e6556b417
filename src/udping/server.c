#include <stdio.h>

#include "udping/udping.h"

int udping_server_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "udping_server: not built yet\n");
    return 70;
}
