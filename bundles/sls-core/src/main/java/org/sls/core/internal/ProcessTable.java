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

    /** Whether the process exists and has not exited (zombies count as exited). */
    boolean alive(int pid) {
        String state = field(pid, "State:");
        return state != null && !state.startsWith("Z") && !state.startsWith("X");
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

    private String field(int pid, String name) {
        List<String> status = status(pid);
        return status == null ? null : value(status, name);
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
