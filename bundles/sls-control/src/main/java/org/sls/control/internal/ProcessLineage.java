package org.sls.control.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Parent links from /proc: is one process the other or one of its descendants. */
class ProcessLineage {

    private final Path proc;

    ProcessLineage(Path proc) {
        this.proc = proc;
    }

    boolean isSelfOrDescendant(int candidate, int ancestor) {
        int pid = candidate;
        for (int hops = 0; pid > 1 && hops < 4096; hops++) {
            if (pid == ancestor) {
                return true;
            }
            pid = parent(pid);
        }
        return pid == ancestor;
    }

    int parent(int pid) {
        try {
            String stat = Files.readString(proc.resolve(Integer.toString(pid)).resolve("stat"));
            // comm may contain spaces and parentheses: fields after the last ')' are fixed
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(f[1]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
