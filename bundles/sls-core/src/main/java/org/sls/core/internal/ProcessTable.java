package org.sls.core.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * What the core needs to know about a PID before it accepts it, read from /proc (no engine needed).
 */
final class ProcessTable {

    private final Path proc;
    private final long selfPid;

    ProcessTable(Path proc, long selfPid) {
        this.proc = proc;
        this.selfPid = selfPid;
    }

    static ProcessTable system() {
        return new ProcessTable(Path.of("/proc"), ProcessHandle.current().pid());
    }

    /**
     * When the process started, in clock ticks since boot (field 22 of /proc/PID/stat), or -1 if there
     * is no such process. A PID alone does not name a process for long: once it exits, the kernel may
     * give the number to the next fork, so a partition remembers each member's start time too.
     */
    long startTime(int pid) {
        return startTime(stat(pid));
    }

    /** Field 22 of a parsed stat (see {@link #stat}), or -1 if there is none. */
    private static long startTime(String[] stat) {
        try {
            return stat == null ? -1 : Long.parseLong(stat[22 - 3]);
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /**
     * Fields 3 and on of /proc/PID/stat (index 0 is field 3, the state), or null if there is no such
     * process. The command name (field 2) may hold spaces and parentheses: fields are counted after
     * the last ')'.
     */
    private String[] stat(int pid) {
        try {
            String stat = Files.readString(proc.resolve(Integer.toString(pid)).resolve("stat"));
            return stat.substring(stat.lastIndexOf(')') + 1).trim().split("\\s+");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Whether {@code pid} is alive and still the process that started at {@code startTime}; with an
     * unknown start time (-1), whether any process of that PID is alive.
     */
    boolean isSame(int pid, long startTime) {
        // One read of /proc/PID/stat gives both the state (field 3) and the start time (field 22):
        // this runs for every member before every periodic epoch, up to 100 times a second.
        // Zombies (Z) and dead tasks (X) have exited.
        String[] stat = stat(pid);
        if (stat == null || stat[0].startsWith("Z") || stat[0].startsWith("X")) {
            return false;
        }
        return startTime < 0 || startTime(stat) == startTime;
    }

    /**
     * Throws SlsException with one line if {@code pid} cannot be put into a partition: it does not
     * exist, has exited, is a kernel thread, is a thread rather than a process, or is SLS itself.
     */
    void checkAttachable(int pid) {
        if (pid <= 0) {
            throw new org.sls.api.SlsException("PID must be a positive integer, got " + pid);
        }
        List<String> status = status(pid);
        if (status == null) {
            throw new org.sls.api.SlsException("process " + pid + " does not exist");
        }
        String state = value(status, "State:");
        if (state != null && (state.startsWith("Z") || state.startsWith("X"))) {
            throw new org.sls.api.SlsException("process " + pid + " has exited");
        }
        String tgid = value(status, "Tgid:");
        if (tgid != null && !tgid.equals(Integer.toString(pid))) {
            throw new org.sls.api.SlsException(pid + " is a thread of process " + tgid + "; attach the process");
        }
        if (isKernelThread(pid, status)) {
            throw new org.sls.api.SlsException("process " + pid + " is a kernel thread and cannot be checkpointed");
        }
        if (pid == selfPid) {
            throw new org.sls.api.SlsException("process " + pid + " is SLS itself (the Karaf JVM) and cannot be attached");
        }
    }

    /** Direct children of every thread of {@code pid}. */
    List<Integer> children(int pid) {
        try (var tasks = Files.list(proc.resolve(Integer.toString(pid)).resolve("task"))) {
            return tasks.flatMap(t -> {
                try {
                    String s = Files.readString(t.resolve("children")).trim();
                    return s.isEmpty() ? java.util.stream.Stream.<Integer>empty()
                            : java.util.Arrays.stream(s.split("\\s+")).map(Integer::valueOf);
                } catch (IOException e) {
                    return java.util.stream.Stream.<Integer>empty();
                }
            }).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private boolean isKernelThread(int pid, List<String> status) {
        String kthread = value(status, "Kthread:");
        if (kthread != null) {
            return kthread.equals("1");
        }
        // Older kernels: kernel threads are kthreadd (2) and its children, and have no memory map.
        return pid == 2 || "2".equals(value(status, "PPid:")) || value(status, "VmSize:") == null;
    }

    private List<String> status(int pid) {
        try {
            return Files.readAllLines(proc.resolve(Integer.toString(pid)).resolve("status"));
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    private static String value(List<String> status, String name) {
        for (String line : status) {
            if (line.startsWith(name)) {
                return line.substring(name.length()).trim();
            }
        }
        return null;
    }
}
