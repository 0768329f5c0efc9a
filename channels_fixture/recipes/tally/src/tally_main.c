/* tally ARG... -- print the total number of characters in the arguments. */
#include "tally.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    printf("%zu\n", tally_total(argc - 1, argv + 1));
    return 0;
}
