#include <stdio.h>

#include "udping/udping.h"

int udping_client_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "udping_client: not built yet\n");
    return 70;
}
