package org.sls.api;

/** Whether a partition can be served right now. */
public enum PartitionState {
    /** Its backend and strategy are present. */
    READY,
    /** Its backend is not registered (stopped, updating, not installed): commands fail, periodic checkpoints pause. */
    BACKEND_UNAVAILABLE;

    public String label() {
        return this == READY ? "ready" : "backend unavailable";
    }
}
