#include <stdio.h>

#include "seqtest/seqtest.h"

int seqtest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "seqtest: not built yet\n");
    return 70;
}
