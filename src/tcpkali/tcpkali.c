#include <stdio.h>

#include "tcpkali/tcpkali.h"

int tcpkali_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tcpkali: not built yet\n");
    return 70;
}
