package org.sls.itests;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * Just enough of the Redis protocol (RESP2) to load and check a redis-server from a test: commands go
 * out as arrays of bulk strings, a reply comes back as its status/error/integer line as is ("+OK",
 * ":5", "-ERR ...") or as the contents of a bulk string ("(nil)" for a null one).
 */
final class RespClient implements Closeable {

    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;

    private RespClient(Socket socket) throws IOException {
        this.socket = socket;
        this.out = socket.getOutputStream();
        this.in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
    }

    /** Connects to 127.0.0.1:port, retrying (a server just started or restored) for up to timeoutMs. */
    static RespClient connect(int port, long timeoutMs) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2_000);
                s.setSoTimeout(10_000);
                return new RespClient(s);
            } catch (IOException e) {
                s.close();
                if (System.currentTimeMillis() > deadline) {
                    throw new IOException("127.0.0.1:" + port + " does not accept connections within " + timeoutMs
                            + " ms: " + e.getMessage(), e);
                }
                Thread.sleep(20);
            }
        }
    }

    static byte[] encode(String... args) {
        StringBuilder b = new StringBuilder().append('*').append(args.length).append("\r\n");
        for (String a : args) {
            b.append('$').append(a.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(a).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Sends one command and returns its reply. */
    String call(String... args) throws IOException {
        out.write(encode(args));
        out.flush();
        return reply();
    }

    /** Sends many already encoded commands in one write (pipelining); read their replies with {@link #reply()}. */
    void send(byte[] commands) throws IOException {
        out.write(commands);
        out.flush();
    }

    String reply() throws IOException {
        String line = line();
        if (!line.startsWith("$")) {
            return line;
        }
        int len = Integer.parseInt(line.substring(1));
        if (len < 0) {
            return "(nil)";
        }
        byte[] data = in.readNBytes(len + 2);
        if (data.length != len + 2) {
            throw new IOException("connection closed in the middle of a bulk reply");
        }
        return new String(data, 0, len, StandardCharsets.UTF_8);
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int prev = -1;
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed by the server (reply so far: '" + b + "')");
            }
            if (prev == '\r' && c == '\n') {
                byte[] bytes = b.toByteArray();
                return new String(bytes, 0, bytes.length - 1, StandardCharsets.UTF_8);
            }
            b.write(c);
            prev = c;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
