"""A fixture program that prints "ready PID" once its threads are set up
and ends when its stdin closes (tests/viewer/pipeline.c,
tests/tools/unstacked.c), for every suite that watches one: started and
stopped one way, so that a change to that protocol is made once."""
import subprocess


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
