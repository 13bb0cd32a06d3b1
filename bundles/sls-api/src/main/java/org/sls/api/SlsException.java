package org.sls.api;

/**
 * The one error type operators see. Its message is a single line that names what is wrong
 * (the OID, the PID, the file, the backend); callers print it as is, never a stack trace.
 */
public class SlsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SlsException(String message) {
        super(message);
    }

    public SlsException(String message, Throwable cause) {
        super(message, cause);
    }
}
