/*
 * Defines tsexec_argc / tsexec_argv (declared in include/tsexec.h) for native
 * code loaded by lib.dlopen. tsexec compiles this file into its build store on
 * first need and loads it with RTLD_GLOBAL, then fills the globals with
 * tsexec_set_argv. Outside tsexec nobody calls tsexec_set_argv: 0 and NULL.
 */
#include <stdlib.h>
#include <string.h>

int tsexec_argc = 0;
char **tsexec_argv = NULL;

/* Copies argv: the strings koffi passes live only for the duration of the call. */
int tsexec_set_argv(int argc, const char **argv)
{
    char **copy = calloc((size_t)argc + 1, sizeof(char *));
    if (copy == NULL)
        return -1;
    for (int i = 0; i < argc; i++) {
        copy[i] = strdup(argv[i]);
        if (copy[i] == NULL)
            return -1;
    }
    tsexec_argv = copy;
    tsexec_argc = argc;
    return 0;
}
