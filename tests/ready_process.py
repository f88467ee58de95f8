"""A fixture program that prints "ready PID" once its threads are set up
and ends when its stdin closes (tests/viewer/pipeline.c,
tests/tools/unstacked.c), for every suite that watches one: started and
stopped one way, so that a change to that protocol is made once.  And
wait_idle: until such a program's green threads have all parked."""
import subprocess
import time


def wait_idle(pid):
    """Until the process's kernel thread that runs the green threads sleeps
    in the poller: every green thread has parked then (a main thread that
    printed "ready" parks just after).  Up to about 10 s."""
    for _ in range(2000):
        # Bytes: the process name in it is any bytes the program set.
        with open("/proc/%d/stat" % pid, "rb") as f:
            state = chr(f.read().rsplit(b") ", 1)[1][0])
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
        if state == "S" and "poll" in wchan:
            return
        time.sleep(0.005)
    raise AssertionError("process %d never went idle" % pid)


class ReadyProcess:
    def __init__(self, argv, stderr=subprocess.PIPE):
        self.p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=stderr, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("ready "), line
        self.pid = self.p.pid

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(timeout=10)
