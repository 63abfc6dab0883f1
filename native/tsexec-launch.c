/*
 * tsexec-launch PARENT-PID PROGRAM [ARGS...]
 *
 * Runs a derivation's builder so that it cannot outlive tsexec, even when
 * tsexec is killed with SIGKILL (which leaves it no chance to clean up).
 * tsexec compiles this file into its build store on first need (Linux only).
 *
 * tsexec spawns this launcher as the leader of a new process group. The
 * launcher asks the kernel for a signal when its parent dies
 * (prctl(PR_SET_PDEATHSIG)), checks that its parent is still PARENT-PID (the
 * parent may have died before the prctl, and then no signal would come), and
 * runs PROGRAM as its child in the same process group. When the signal comes,
 * it kills the whole group with SIGKILL: the builder and every process it
 * started, unless one moved itself to another process group or session
 * (setsid, setpgid: daemons do), which nothing here can follow.
 *
 * The launcher stays as the builder's parent and exits as the builder did
 * (same code, or killed by the same signal), so tsexec sees the builder's
 * status. Signals tsexec sends to the group (SIGINT, SIGTERM, SIGKILL) reach
 * the builder directly; the launcher only waits for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Not a signal anything sends to a process group: a realtime one. */
#define PARENT_DIED (SIGRTMIN + 4)

static void kill_group(int sig)
{
    (void)sig;
    kill(0, SIGKILL); /* the group: the builder, its children, and this launcher */
    _exit(137);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tsexec-launch PARENT-PID PROGRAM [ARGS...]\n");
        return 127;
    }
    char *end;
    long parent = strtol(argv[1], &end, 10);
    if (*end != '\0' || parent <= 0) {
        fprintf(stderr, "tsexec-launch: '%s' is not a parent pid\n", argv[1]);
        return 127;
    }

    /* kill(0, ...) below must reach only the builder's group: lead one (tsexec already made us a leader). */
    if (getpgrp() != getpid() && setpgid(0, 0) != 0) {
        perror("tsexec-launch: setpgid");
        return 127;
    }

    struct sigaction on_parent_death;
    memset(&on_parent_death, 0, sizeof on_parent_death);
    on_parent_death.sa_handler = kill_group;
    sigaction(PARENT_DIED, &on_parent_death, NULL);
    if (prctl(PR_SET_PDEATHSIG, PARENT_DIED) != 0) {
        perror("tsexec-launch: prctl(PR_SET_PDEATHSIG)");
        return 127;
    }
    /* The parent died before the prctl: no signal will come, so act now. */
    if (getppid() != (pid_t)parent)
        kill_group(0);

    pid_t builder = fork();
    if (builder < 0) {
        perror("tsexec-launch: fork");
        return 127;
    }
    if (builder == 0) {
        /* The death signal is not inherited by fork; the handler is reset by exec. */
        execvp(argv[2], argv + 2);
        fprintf(stderr, "tsexec-launch: cannot run '%s': %s\n", argv[2], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    /* Signals sent to the group are for the builder: the launcher waits for it to act on them. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);

    int status;
    while (waitpid(builder, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("tsexec-launch: waitpid");
            return 127;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    /* Die of the same signal, so tsexec reports it as the builder's. */
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, sig);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    raise(sig);
    return 128 + sig;
}
