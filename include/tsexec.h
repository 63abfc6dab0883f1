/*
 * tsexec.h: what native code loaded by tsexec's `lib.dlopen` can use.
 *
 * In a tsexec build (lib.runCommand, lib.derivation) compile with -I "$TSEXEC_INCLUDE";
 * elsewhere with -I <the tsexec package>/include (lib.configuration.datadir + "/include").
 */
#ifndef TSEXEC_H
#define TSEXEC_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The tsexec process's command line (nix-exec's nixexec_argc / nixexec_argv):
 * tsexec_argv[0] is the tsexec launcher, then tsexec's arguments as typed
 * (options, the script, the script's arguments); tsexec_argv[tsexec_argc] is NULL.
 * Outside tsexec (a script run through "tsexec/unsafe-lib") they are 0 and NULL.
 *
 * tsexec defines them in a small library it loads with RTLD_GLOBAL before the
 * first library that refers to them, so a library using them needs no link flag.
 */
extern int tsexec_argc;
extern char **tsexec_argv;

#ifdef __cplusplus
}
#endif

#endif /* TSEXEC_H */
