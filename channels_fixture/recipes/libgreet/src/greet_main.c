/* greet NAME... -- print libgreet's greeting for each NAME. */
#include "greet.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: greet NAME...\n       greet --datadir\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--datadir") == 0) {
        const char *dir = greet_datadir();
        if (dir == NULL) {
            fprintf(stderr, "greet: %s\n", greet_last_error());
            return 1;
        }
        printf("%s\n", dir);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        char *msg = greet_message(argv[i]);
        if (msg == NULL) {
            fprintf(stderr, "greet: %s\n", greet_last_error());
            return 1;
        }
        printf("%s\n", msg);
        greet_free(msg);
    }
    return 0;
}
