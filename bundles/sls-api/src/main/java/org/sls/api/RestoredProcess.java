package org.sls.api;

/** One process brought back: its PID at checkpoint time and the PID it runs under now. */
public record RestoredProcess(int originalPid, int pid) {
    public boolean samePid() {
        return originalPid == pid;
    }
}
