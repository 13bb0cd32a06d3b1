/* Restore test program: four threads contend for one mutex, each counting in thread-local storage
 * and in a shared counter, and wake the main thread through a condition variable. After SIGUSR2 the
 * main thread stops and joins them (pthread_join needs clear_child_tid), and checks the TLS counts add
 * up to the shared counter, that each worker still has its own blocked, pending SIGUSR1, and that
 * sched_getcpu (rseq) agrees with getcpu. Prints READY, then
 * PASS/FAIL as every rst_* program. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4
static volatile sig_atomic_t verify_requested;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress = PTHREAD_COND_INITIALIZER;
static uint64_t shared_count;
static volatile int stop;
static __thread uint64_t my_count;
static __thread int my_index = -1;

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static void *worker(void *arg)
{
    my_index = (int)(intptr_t)arg;
    /* A signal pending for this thread alone, blocked by its own mask: both must survive. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    pthread_kill(pthread_self(), SIGUSR1);
    for (;;) {
        pthread_mutex_lock(&lock);
        if (stop) {
            pthread_mutex_unlock(&lock);
            break;
        }
        shared_count++;
        my_count++;
        if (shared_count % 1024 == 0)
            pthread_cond_signal(&progress);
        pthread_mutex_unlock(&lock);
    }
    if (my_index != (int)(intptr_t)arg)
        return (void *)-1;
    sigset_t pending, mask;
    sigpending(&pending);
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    if (!sigismember(&pending, SIGUSR1) || !sigismember(&mask, SIGUSR1))
        return (void *)-2;
    return (void *)(uintptr_t)my_count;
}

int main(void)
{
    signal(SIGUSR2, on_usr2);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    pthread_mutex_lock(&lock);
    while (shared_count < 100000)
        pthread_cond_wait(&progress, &lock);
    pthread_mutex_unlock(&lock);
    printf("READY\n");
    fflush(stdout);
    uint64_t wakeups = 0;
    while (!verify_requested) {
        pthread_mutex_lock(&lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 10 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&progress, &lock, &until) == 0)
            wakeups++;
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    stop = 1;
    pthread_mutex_unlock(&lock);
    uint64_t sum = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        if (pthread_join(t[i], &ret)) {
            printf("FAIL rst_threads: pthread_join failed\n");
            return 1;
        }
        if (ret == (void *)-1) {
            printf("FAIL rst_threads: thread-local storage of thread %d lost\n", i);
            return 1;
        }
        if (ret == (void *)-2) {
            printf("FAIL rst_threads: thread %d lost its own pending SIGUSR1 or its signal mask\n", i);
            return 1;
        }
        sum += (uintptr_t)ret;
    }
    if (sum != shared_count) {
        printf("FAIL rst_threads: TLS counts add to %llu, shared counter %llu\n", (unsigned long long)sum,
               (unsigned long long)shared_count);
        return 1;
    }
    unsigned cpu = 0;
    syscall(SYS_getcpu, &cpu, NULL, NULL);
    int rseq_cpu = sched_getcpu();
    if (rseq_cpu < 0 || (unsigned)rseq_cpu >= (unsigned)sysconf(_SC_NPROCESSORS_CONF)) {
        printf("FAIL rst_threads: sched_getcpu returned %d (getcpu %u)\n", rseq_cpu, cpu);
        return 1;
    }
    printf("PASS rst_threads count=%llu wakeups=%llu\n", (unsigned long long)shared_count, (unsigned long long)wakeups);
    fflush(stdout);
    return 0;
}
