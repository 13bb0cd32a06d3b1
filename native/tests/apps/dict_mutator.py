"""dict_mutator.py PROGRESS_FILE — a long-running Python computation for the restore tests.

Builds a dict of 1 000 000 int entries, then mutates it deterministically forever, keeping a running
total of its values. Every 10 000 steps it appends "step S total T" to PROGRESS_FILE (opened once,
append mode, flushed per line): the same step always has the same total, whoever computes it, so a
restored interpreter that continues from the checkpoint rewrites exactly the lines its lost future
wrote. On SIGUSR1 it checks its own invariant — the dict still has every key and the running total
equals sum(d.values()) — and prints "PASS dict_mutator step=S" or "FAIL dict_mutator: why" on stdout.
"""
import signal
import sys

N = 1_000_000
MOD = 1_000_003
check_requested = False


def on_usr1(signum, frame):
    global check_requested
    check_requested = True


def main():
    global check_requested
    progress = open(sys.argv[1], "a")
    signal.signal(signal.SIGUSR1, on_usr1)
    d = {i: (i * 7) % MOD for i in range(N)}
    total = sum(d.values())
    print("READY", flush=True)
    step = 0
    while True:
        key = (step * 7919) % N
        old = d[key]
        new = (old * 31 + step) % MOD
        d[key] = new
        total += new - old
        step += 1
        if step % 10_000 == 0:
            progress.write("step %d total %d\n" % (step, total))
            progress.flush()
        if check_requested:
            check_requested = False
            if len(d) != N:
                print("FAIL dict_mutator: %d keys, want %d" % (len(d), N), flush=True)
            elif sum(d.values()) != total:
                print("FAIL dict_mutator: running total %d != sum %d at step %d" % (total, sum(d.values()), step),
                      flush=True)
            else:
                print("PASS dict_mutator step=%d" % step, flush=True)


main()
