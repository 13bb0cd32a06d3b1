/*
 * sls-seed — the body every restored process starts from.
 *
 * sls_restore execs this static binary under ptrace and stops it at execve's syscall-exit, before
 * any of its code runs; from there the restorer unmaps all of it and rebuilds the captured process
 * around the injection gadget (native/src/restore_seed.c). It is static so that nothing (no dynamic
 * loader, no libc mappings beyond its own image) needs to be cleared away.
 *
 * Nothing here is meant to run. If it ever does — the engine died between exec and rebuild, which
 * PTRACE_O_EXITKILL normally prevents — it sleeps harmlessly rather than doing anything.
 */
#include <unistd.h>

int main(void)
{
    for (;;)
        pause();
}
