"""Runs ARGV[3:] on a new pseudo-terminal (its controlling terminal, as
`docker run -it` gives a container), with stdout and stderr to the files
ARGV[1] and ARGV[2]; types one line into the terminal; prints the command's
exit code, or `timeout` if it has not ended within 20 s (then kills it)."""
import os
import pty
import select
import sys
import time

out, err, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
    os.execv(argv[0], argv)
os.write(master, b"typed\n")
deadline = time.time() + 20
while time.time() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print(os.waitstatus_to_exitcode(status))
        sys.exit(0)
    # The terminal echoes what was typed: read it so nothing blocks.
    ready, _, _ = select.select([master], [], [], 0.05)
    if ready:
        try:
            os.read(master, 1024)
        except OSError:
            pass
os.kill(pid, 9)
os.waitpid(pid, 0)
print("timeout")
