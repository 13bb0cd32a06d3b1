package org.sls.core.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs periodic checkpoints. Each partition has at most one pending run; a run that takes longer
 * than the period is never stacked: the next one starts when it ends, and the periods that passed
 * meanwhile are counted as skipped.
 */
final class CheckpointScheduler {

    /** One periodic checkpoint attempt; returns normally whatever happened (it records its own errors). */
    interface Job {
        void run(long oid);

        void skipped(long oid, long count);
    }

    private final ScheduledExecutorService executor;
    /** One partition's schedule; a tick reschedules only while its schedule is still the current one. */
    private static final class Schedule {
        final long periodMs;
        volatile ScheduledFuture<?> next;

        Schedule(long periodMs) {
            this.periodMs = periodMs;
        }
    }

    private final Map<Long, Schedule> schedules = new ConcurrentHashMap<>();
    private final Job job;

    CheckpointScheduler(int threads, Job job) {
        AtomicInteger n = new AtomicInteger();
        this.executor = Executors.newScheduledThreadPool(threads, r -> {
            Thread t = new Thread(r, "sls-checkpoint-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.job = job;
    }

    void start(long oid, long periodMs) {
        stop(oid);
        Schedule s = new Schedule(periodMs);
        schedules.put(oid, s);
        s.next = executor.schedule(() -> tick(oid, s), periodMs, TimeUnit.MILLISECONDS);
    }

    void stop(long oid) {
        Schedule s = schedules.remove(oid);
        if (s != null && s.next != null) {
            s.next.cancel(false);
        }
    }

    boolean scheduled(long oid) {
        return schedules.containsKey(oid);
    }

    void shutdown() {
        executor.shutdownNow();
        try {
            executor.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        schedules.clear();
    }

    private void tick(long oid, Schedule schedule) {
        long periodMs = schedule.periodMs;
        long started = System.nanoTime();
        try {
            job.run(oid);
        } finally {
            long elapsedMs = (System.nanoTime() - started) / 1_000_000;
            long missed = elapsedMs / periodMs;
            if (missed > 0) {
                job.skipped(oid, missed);
            }
            long delay = missed > 0 ? 0 : periodMs - elapsedMs;
            // Only reschedule if this partition's schedule was not stopped or replaced meanwhile.
            if (schedules.get(oid) == schedule && !executor.isShutdown()) {
                try {
                    schedule.next = executor.schedule(() -> tick(oid, schedule), delay, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // shutting down
                }
            }
        }
    }
}
