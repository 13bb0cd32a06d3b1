package org.sls.core.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs periodic checkpoints on a fixed grid of periods from the schedule's start. Each partition has
 * at most one pending run; a run that takes longer than the period is never stacked: the next one
 * starts at once (in the period the clock is in when the run ends), and every period that began and
 * ended without a run is counted as skipped. So runs + skips = periods elapsed, also when the
 * executor itself fires late.
 */
final class CheckpointScheduler {

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointScheduler.class);

    /** One periodic checkpoint attempt; returns normally whatever happened (it records its own errors). */
    interface Job {
        void run(long oid);

        void skipped(long oid, long count);
    }

    private final ScheduledExecutorService executor;
    /** One partition's schedule; a tick reschedules only while its schedule is still the current one. */
    private static final class Schedule {
        final long periodMs;
        final long originNanos;
        /** Index of the period the next run belongs to (written only by the running tick). */
        long nextSlot = 1;
        volatile ScheduledFuture<?> next;

        Schedule(long periodMs, long originNanos) {
            this.periodMs = periodMs;
            this.originNanos = originNanos;
        }

        long slotAt(long nanos) {
            return (nanos - originNanos) / (periodMs * 1_000_000L);
        }

        long slotStartNanos(long slot) {
            return originNanos + slot * periodMs * 1_000_000L;
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
        Schedule s = new Schedule(periodMs, System.nanoTime());
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
        long started = System.nanoTime();
        long slot = Math.max(schedule.nextSlot, schedule.slotAt(started));
        if (slot > schedule.nextSlot) {
            job.skipped(oid, slot - schedule.nextSlot); // the executor fired late
            LOG.debug("partition {}: {} period(s) skipped: the timer fired {} µs late", oid, slot - schedule.nextSlot,
                    (started - schedule.slotStartNanos(schedule.nextSlot)) / 1000);
        }
        try {
            job.run(oid);
        } finally {
            long now = System.nanoTime();
            long current = schedule.slotAt(now);
            long nextSlot;
            long delayNanos;
            if (current > slot) {
                // The run overran into later periods: those it covered entirely are skipped, and the
                // next run starts now, in the period the clock is in.
                if (current - slot - 1 > 0) {
                    job.skipped(oid, current - slot - 1);
                    LOG.debug("partition {}: {} period(s) skipped: the epoch took {} µs", oid, current - slot - 1,
                            (now - started) / 1000);
                }
                nextSlot = current;
                delayNanos = 0;
            } else {
                nextSlot = slot + 1;
                delayNanos = schedule.slotStartNanos(nextSlot) - now;
            }
            schedule.nextSlot = nextSlot;
            // Only reschedule if this partition's schedule was not stopped or replaced meanwhile.
            if (schedules.get(oid) == schedule && !executor.isShutdown()) {
                try {
                    schedule.next = executor.schedule(() -> tick(oid, schedule), Math.max(0, delayNanos),
                            TimeUnit.NANOSECONDS);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // shutting down
                }
            }
        }
    }
}
